"""Grants, and the running totals summed from them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, Row, bindparam, func, insert, literal, select, union_all

from service.domain.grant_rule import GrantedSoFar
from service.domain.money import Money, from_minor, to_minor
from service.domain.principal import Principal
from service.domain.records import DecisionRef, Grant, StoredOffer
from service.store import clock, keyset
from service.store.models import GrantRow

GRANTS = GrantRow.__table__

_INSERT = insert(GRANTS)
_OF_DECISION = (select(GRANTS).where(GRANTS.c.decision_id == bindparam("decision_id"))
                .order_by(GRANTS.c.granted_at))


def _sums(scope: str, *conditions):
    """What was granted in one scope, per currency, with how many grants."""
    return (select(literal(scope).label("scope"), GRANTS.c.currency,
                   func.sum(GRANTS.c.amount_minor).label("minor"),
                   func.count().label("grants"))
            .where(*conditions).group_by(GRANTS.c.currency))


# The totals a decision not yet recorded is made against (nothing is granted on it yet):
# parts of a UNION ALL, rows (scope, currency, minor, grants), read by `granted_so_far`.
# The lookup before deciding reads them in the same statement (DecisionQueries.before_deciding).
SUMS_BEFORE_DECIDING = (
    _sums("agent_today", GRANTS.c.principal == bindparam("principal"),
          GRANTS.c.granted_at >= bindparam("day_start")),
    _sums("order", GRANTS.c.order_id == bindparam("order_id")),
    _sums("customer_window", GRANTS.c.customer_id == bindparam("customer_id"),
          GRANTS.c.granted_at >= bindparam("window_start")),
)
# Every total in one statement, per scope and currency, read under the locks the caller
# holds; each part can use its own index.
_TOTALS = union_all(
    _sums("incident", GRANTS.c.decision_id == bindparam("decision_id")),
    *SUMS_BEFORE_DECIDING)


def granted_so_far(rows: Iterable[Row]) -> GrantedSoFar:
    """The running totals from rows (scope, currency, minor, grants) of the sums above;
    rows of other scopes are not theirs and are passed over."""
    sums: dict[str, dict[str, Decimal]] = {
        "incident": {}, "agent_today": {}, "order": {}, "customer_window": {}}
    grants_in_window = 0
    for row in rows:
        if row.scope in sums:
            sums[row.scope][row.currency] = from_minor(int(row.minor), row.currency)
            if row.scope == "customer_window":
                grants_in_window += row.grants
    return GrantedSoFar(**sums, customer_grants_in_window=grants_in_window)


# How many grants counted in any scope of a grant by the principal on the decision now were
# made after a moment: what changed the running totals since then (the principal's only from
# the start of its day, the customer's only within the rolling window, as the totals count).
_MADE_SINCE = select(func.count()).select_from(GRANTS).where(
    GRANTS.c.granted_at > bindparam("since"),
    (GRANTS.c.decision_id == bindparam("decision_id"))
    | (GRANTS.c.order_id == bindparam("order_id"))
    | ((GRANTS.c.principal == bindparam("principal"))
       & (GRANTS.c.granted_at >= bindparam("day_start")))
    | ((GRANTS.c.customer_id == bindparam("customer_id"))
       & (GRANTS.c.granted_at >= bindparam("window_start"))))


def _grant(row: Row) -> Grant:
    return Grant(
        id=row.id, offer_id=row.offer_id, decision_id=row.decision_id,
        customer_id=row.customer_id, order_id=row.order_id, remedy=row.remedy,
        value=Money(from_minor(row.amount_minor, row.currency), row.currency),
        principal=row.principal, role=row.role, approval_request_id=row.approval_request_id,
        granted_at=clock.aware(row.granted_at))


class GrantQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, offer: StoredOffer, decision: DecisionRef, principal: Principal,
            moment: datetime, approval_request_id: str | None = None) -> Grant:
        """Record the offer as given by `principal` (the offer's state is the caller's)."""
        grant = Grant(
            id=str(uuid.uuid4()), offer_id=offer.id, decision_id=decision.id,
            customer_id=decision.customer_id, order_id=decision.order_id, remedy=offer.remedy,
            value=offer.value, principal=principal.id, role=principal.role,
            approval_request_id=approval_request_id, granted_at=moment)
        self._connection.execute(_INSERT, dict(
            id=grant.id, offer_id=grant.offer_id, decision_id=grant.decision_id,
            customer_id=grant.customer_id, order_id=grant.order_id, remedy=grant.remedy,
            amount_minor=to_minor(grant.value.amount, grant.value.currency),
            currency=grant.value.currency,
            principal=grant.principal, role=grant.role,
            approval_request_id=grant.approval_request_id, granted_at=moment))
        return grant

    def of_decision(self, decision_id: str) -> list[Grant]:
        """Oldest first."""
        return [_grant(row) for row in
                self._connection.execute(_OF_DECISION, {"decision_id": decision_id})]

    def totals(self, principal_id: str, decision: DecisionRef, day_start: datetime,
               window_start: datetime) -> GrantedSoFar:
        """What is already granted, per currency: on the decision, by the principal since
        `day_start`, on the order, and to the customer since `window_start` (with the count
        of grants to the customer in any currency). Converting is the grant rule's."""
        return self._totals(principal_id, decision.id, decision.order_id,
                            decision.customer_id, day_start, window_start)

    def before_deciding(self, principal_id: str, order_id: str, customer_id: str,
                        day_start: datetime, window_start: datetime) -> GrantedSoFar:
        """The totals a decision not yet recorded is made against (nothing on it yet)."""
        return self._totals(principal_id, None, order_id, customer_id, day_start,
                            window_start)

    def made_since(self, principal_id: str, decision: DecisionRef, since: datetime,
                   day_start: datetime, window_start: datetime) -> int:
        """How many grants counted toward a grant by the principal on the decision (as
        `totals` counts them from `day_start` and `window_start`) were made after `since`."""
        return self._connection.execute(_MADE_SINCE, {
            "since": since, "decision_id": decision.id, "principal": principal_id,
            "order_id": decision.order_id, "customer_id": decision.customer_id,
            "day_start": day_start, "window_start": window_start}).scalar_one()

    def _totals(self, principal_id: str, decision_id: str | None, order_id: str,
                customer_id: str, day_start: datetime, window_start: datetime) -> GrantedSoFar:
        return granted_so_far(self._connection.execute(_TOTALS, {
            "decision_id": decision_id, "principal": principal_id, "day_start": day_start,
            "order_id": order_id, "customer_id": customer_id, "window_start": window_start}))

    def of_customer(self, customer_id: str, position: keyset.Position,
                    limit: int) -> tuple[list[Grant], keyset.Position]:
        """A page of the grants to the customer, newest first."""
        rows, following = keyset.page(
            self._connection, select(GRANTS).where(GRANTS.c.customer_id == customer_id),
            GRANTS.c.granted_at, GRANTS.c.id, position, limit)
        return [_grant(row) for row in rows], following
