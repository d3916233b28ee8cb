"""Grants, and the running totals summed from them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, func, insert, select

from service.domain.grant_rule import RunningTotals
from service.domain.money import Money, from_minor, to_minor
from service.domain.principal import Principal
from service.domain.records import DecisionRef, Grant, StoredOffer
from service.store import clock, keyset
from service.store.models import GrantRow

GRANTS = GrantRow.__table__

_INSERT = insert(GRANTS)
_OF_DECISION = (select(GRANTS).where(GRANTS.c.decision_id == bindparam("decision_id"))
                .order_by(GRANTS.c.granted_at))


def _granted(*conditions):
    return (select(func.coalesce(func.sum(GRANTS.c.amount_minor), 0))
            .where(*conditions).scalar_subquery())


_SAME_CURRENCY = GRANTS.c.currency == bindparam("currency")
_IN_WINDOW = (GRANTS.c.customer_id == bindparam("customer_id"),
              GRANTS.c.granted_at >= bindparam("window_start"))
# Every total in one statement, read under the locks the caller holds.
_TOTALS = select(
    _granted(GRANTS.c.decision_id == bindparam("decision_id"), _SAME_CURRENCY).label("incident"),
    _granted(GRANTS.c.principal == bindparam("principal"), _SAME_CURRENCY,
             GRANTS.c.granted_at >= bindparam("day_start")).label("agent_today"),
    _granted(GRANTS.c.order_id == bindparam("order_id"), _SAME_CURRENCY).label("order"),
    _granted(*_IN_WINDOW, _SAME_CURRENCY).label("customer_window"),
    select(func.count()).select_from(GRANTS).where(*_IN_WINDOW).scalar_subquery()
    .label("customer_grants"),
)


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

    def totals(self, principal_id: str, currency: str, decision: DecisionRef,
               day_start: datetime, window_start: datetime) -> RunningTotals:
        """What is already granted, in `currency`: on the decision, by the principal since
        `day_start`, on the order, and to the customer since `window_start` (with the
        count of grants to the customer in any currency)."""
        row = self._connection.execute(_TOTALS, {
            "currency": currency, "decision_id": decision.id, "principal": principal_id,
            "day_start": day_start, "order_id": decision.order_id,
            "customer_id": decision.customer_id, "window_start": window_start}).one()
        return RunningTotals(
            incident=from_minor(row.incident or 0, currency),
            agent_today=from_minor(row.agent_today or 0, currency),
            order=from_minor(row.order or 0, currency),
            customer_window=from_minor(row.customer_window or 0, currency),
            customer_grants_in_window=row.customer_grants or 0)

    def of_customer(self, customer_id: str, position: keyset.Position,
                    limit: int) -> tuple[list[Grant], keyset.Position]:
        """A page of the grants to the customer, newest first."""
        rows, following = keyset.page(
            self._connection, select(GRANTS).where(GRANTS.c.customer_id == customer_id),
            GRANTS.c.granted_at, GRANTS.c.id, position, limit)
        return [_grant(row) for row in rows], following
