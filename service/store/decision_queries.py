"""Recorded decisions: the lookup before deciding, the insert after, reading them back."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Row,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    text,
    union_all,
)

from service.domain.decision import Decision
from service.domain.incident import Incident
from service.domain.money import to_minor
from service.domain.principal import Principal
from service.domain.records import (
    DecidedIncident,
    DecisionRef,
    DecisionSummary,
    KnownIncident,
    StoredDecision,
    StoredOffer,
    offer_id,
)
from service.domain.running_totals import GrantedSoFar
from service.domain.vocabulary import OfferState, Outlook
from service.store import clock, decision_codec, keyset
from service.store.grant_queries import SUMS_BEFORE_DECIDING, granted_so_far
from service.store.models import DecisionRow, OfferRow
from service.store.offer_queries import OfferQueries

DECISIONS = DecisionRow.__table__
OFFERS = OfferRow.__table__

# Built once: executing a prepared Core statement on a plain connection costs a fraction of
# building one per request or going through the ORM, on the hottest path of the service.
_LOOKUP = select(
    select(func.count()).select_from(DECISIONS).where(
        DECISIONS.c.customer_id == bindparam("customer_id"),
        DECISIONS.c.decided_at >= bindparam("since")).scalar_subquery().label("prior"),
    select(DECISIONS.c.request_hash).where(
        DECISIONS.c.incident_id == bindparam("incident_id")).scalar_subquery().label("hash"),
)


def _decisions(scope: str, *conditions):
    """How many decisions match, as a row shaped like the running totals' rows."""
    return select(literal(scope).label("scope"), cast(null(), String).label("currency"),
                  cast(null(), BigInteger).label("minor"), func.count().label("grants")
                  ).select_from(DECISIONS).where(*conditions)


# What deciding reads, in one statement: two rows of the lookup (the customer's decisions
# since `since`, and whether the incident id was decided, their counts in `grants`), then the
# running totals' rows (service.store.grant_queries).
_BEFORE_DECIDING = union_all(
    _decisions("prior_failures", DECISIONS.c.customer_id == bindparam("customer_id"),
               DECISIONS.c.decided_at >= bindparam("since")),
    _decisions("decided", DECISIONS.c.incident_id == bindparam("incident_id")),
    *SUMS_BEFORE_DECIDING)
_INSERT_DECISION = insert(DECISIONS)
_INSERT_OFFERS = insert(OFFERS)


_OFFER_ARRAYS = ("id", "number", "remedy", "amount_minor", "currency", "variant", "source",
                 "approval", "approver_role", "state")
# PostgreSQL: the decision and its offers in one statement (one round trip), the same
# statement whatever the number of offers (each offer column a parameter array). The
# offers' foreign key sees the decision the WITH inserts.
_INSERT_WITH_OFFERS = text("""
WITH decision AS (
  INSERT INTO decisions (id, incident_id, request_hash, customer_id, order_id, currency,
                         principal, role, policy_name, policy_version, outlook, request,
                         result, decided_at)
  VALUES (:id, :incident_id, :request_hash, :customer_id, :order_id, :currency, :principal,
          :role, :policy_name, :policy_version, :outlook, :request, :result, :decided_at))
INSERT INTO offers (id, decision_id, number, remedy, amount_minor, currency, variant, source,
                    approval, approver_role, state, state_changed_at)
SELECT offer.id, :id, offer.number, offer.remedy, offer.amount_minor, offer.currency,
       offer.variant, offer.source, offer.approval, offer.approver_role, offer.state,
       :decided_at
FROM unnest(CAST(:offer_id AS VARCHAR[]), CAST(:offer_number AS INTEGER[]),
            CAST(:offer_remedy AS VARCHAR[]), CAST(:offer_amount_minor AS BIGINT[]),
            CAST(:offer_currency AS VARCHAR[]), CAST(:offer_variant AS VARCHAR[]),
            CAST(:offer_source AS VARCHAR[]), CAST(:offer_approval AS VARCHAR[]),
            CAST(:offer_approver_role AS VARCHAR[]), CAST(:offer_state AS VARCHAR[]))
  AS offer(id, number, remedy, amount_minor, currency, variant, source, approval,
           approver_role, state)
""").bindparams(bindparam("request", type_=JSON), bindparam("result", type_=JSON))

_ANSWERED = select(DECISIONS.c.id, DECISIONS.c.request_hash).where(
    DECISIONS.c.incident_id == bindparam("incident_id"))
_BY_ID = select(DECISIONS).where(DECISIONS.c.id == bindparam("decision_id"))
_REF = select(DECISIONS.c.id, DECISIONS.c.customer_id, DECISIONS.c.order_id).where(
    DECISIONS.c.id == bindparam("decision_id"))
# A customer's history reads neither the stored result nor anything it does not show.
_SUMMARIES = select(
    DECISIONS.c.id, DECISIONS.c.incident_id, DECISIONS.c.decided_at, DECISIONS.c.order_id,
    DECISIONS.c.request, DECISIONS.c.outlook, DECISIONS.c.policy_name,
    DECISIONS.c.policy_version, DECISIONS.c.principal, DECISIONS.c.role)


class DecisionQueries:
    def __init__(self, connection: Connection, offers: OfferQueries):
        self._connection = connection
        self._offers = offers

    def known(self, incident_id: str, customer_id: str, since: datetime) -> KnownIncident:
        """Whether the incident was decided before, and the customer's decisions since
        `since`: one query, before deciding."""
        prior, earlier_hash = self._connection.execute(_LOOKUP, {
            "customer_id": customer_id, "since": since, "incident_id": incident_id}).one()
        return KnownIncident(prior_failures=prior or 0, decided=earlier_hash is not None)

    def before_deciding(self, incident: Incident, principal_id: str, since: datetime,
                        day_start: datetime,
                        window_start: datetime) -> tuple[KnownIncident, GrantedSoFar]:
        """`known`, and the running totals a decision on the incident by the principal is
        made against (as GrantQueries.before_deciding reads them): one query."""
        rows = self._connection.execute(_BEFORE_DECIDING, {
            "customer_id": incident.customer.id, "since": since,
            "incident_id": incident.incident_id, "principal": principal_id,
            "day_start": day_start, "order_id": incident.order.id,
            "window_start": window_start}).all()
        counts = {row.scope: row.grants for row in rows}  # the lookup's rows among them
        return (KnownIncident(prior_failures=counts["prior_failures"],
                              decided=counts["decided"] > 0), granted_so_far(rows))

    def add(self, decision: Decision, incident: Incident, principal: Principal,
            request: Mapping[str, object], request_fingerprint: str,
            moment: datetime) -> StoredDecision:
        """Record a decision and its offers (each `proposed`): on PostgreSQL in one
        statement (one round trip), on SQLite (in process) in two."""
        decision_id = str(uuid.uuid4())
        ids = {offer.number: offer_id(decision_id, offer.number) for offer in decision.offers}
        row = dict(
            id=decision_id, incident_id=incident.incident_id, request_hash=request_fingerprint,
            customer_id=incident.customer.id, order_id=incident.order.id,
            currency=incident.order.currency, principal=principal.id, role=principal.role,
            policy_name=decision.policy_name, policy_version=decision.policy_version,
            outlook=decision.outlook, request=request,
            result=decision_codec.encode(decision, decision_id, ids, moment),
            decided_at=moment)
        offers = tuple(StoredOffer(
            id=ids[offer.number], decision_id=decision_id, number=offer.number,
            remedy=offer.remedy, value=offer.value, variant=offer.variant, source=offer.source,
            approval=offer.approval, approver_role=offer.approver_role,
            state=OfferState.PROPOSED, state_changed_at=moment) for offer in decision.offers)
        offer_rows = [dict(
            id=offer.id, decision_id=decision_id, number=offer.number, remedy=offer.remedy,
            currency=offer.value.currency,
            amount_minor=to_minor(offer.value.amount, offer.value.currency),
            variant=offer.variant, source=offer.source, approval=offer.approval,
            approver_role=offer.approver_role, state=offer.state,
            state_changed_at=moment) for offer in offers]
        if offer_rows and self._connection.dialect.name == "postgresql":
            for name in _OFFER_ARRAYS:
                row[f"offer_{name}"] = [offer_row[name] for offer_row in offer_rows]
            self._connection.execute(_INSERT_WITH_OFFERS, row)
        else:
            self._connection.execute(_INSERT_DECISION, row)
            if offer_rows:
                self._connection.execute(_INSERT_OFFERS, offer_rows)
        return StoredDecision(
            id=decision_id, decision=decision, offers=offers, decided_at=moment,
            customer_id=incident.customer.id, order_id=incident.order.id,
            principal=principal.id, request=request)

    def answered(self, incident_id: str) -> DecidedIncident | None:
        """Which decision answered this incident id, and the fingerprint of its request."""
        row = self._connection.execute(_ANSWERED, {"incident_id": incident_id}).one_or_none()
        return None if row is None else DecidedIncident(row.id, row.request_hash)

    def get(self, decision_id: str) -> StoredDecision | None:
        """The decision with the current state of each offer."""
        row = self._connection.execute(_BY_ID, {"decision_id": decision_id}).one_or_none()
        if row is None:
            return None
        offers = self._offers.of_decisions([row.id])[row.id]
        return StoredDecision(
            id=row.id,
            decision=decision_codec.decode(row.result, {o.id: o.number for o in offers}),
            offers=offers, decided_at=clock.aware(row.decided_at),
            customer_id=row.customer_id, order_id=row.order_id, principal=row.principal,
            request=row.request)

    def ref(self, decision_id: str) -> DecisionRef | None:
        row = self._connection.execute(_REF, {"decision_id": decision_id}).one_or_none()
        return None if row is None else DecisionRef(row.id, row.customer_id, row.order_id)

    def of_customer(self, customer_id: str, position: keyset.Position,
                    limit: int) -> tuple[list[DecisionSummary], keyset.Position]:
        """A page of the customer's decisions, newest first."""
        rows, following = keyset.page(
            self._connection, _SUMMARIES.where(DECISIONS.c.customer_id == customer_id),
            DECISIONS.c.decided_at, DECISIONS.c.id, position, limit)
        offers = self._offers.of_decisions(row.id for row in rows)
        return [_summary(row, offers[row.id]) for row in rows], following


def _summary(row: Row, offers: tuple[StoredOffer, ...]) -> DecisionSummary:
    failure = row.request.get("failure", {})
    return DecisionSummary(
        id=row.id, incident_id=row.incident_id, decided_at=clock.aware(row.decided_at),
        order_id=row.order_id, category=failure.get("category"),
        severity=failure.get("severity"), outlook=Outlook(row.outlook),
        policy_name=row.policy_name, policy_version=row.policy_version,
        principal=row.principal, role=row.role, offers=offers)
