"""What deciding asks of the store, on the driver's connection (service.store.dbapi): the
one read before deciding and the write after. Everything else about decisions is in
service.store.decision_queries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
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
from service.domain.records import KnownIncident, StoredDecision, StoredOffer, offer_id
from service.domain.running_totals import GrantedSoFar
from service.domain.vocabulary import OfferState
from service.store import decision_codec
from service.store.dbapi import DbapiTransaction, Prepared
from service.store.grant_queries import SUMS_BEFORE_DECIDING, granted_so_far
from service.store.models import DecisionRow, OfferRow

DECISIONS = DecisionRow.__table__
OFFERS = OfferRow.__table__


def _decisions(scope: str, *conditions):
    """How many decisions match, as a row shaped like the running totals' rows."""
    return select(literal(scope).label("scope"), cast(null(), String).label("currency"),
                  cast(null(), BigInteger).label("minor"), func.count().label("grants")
                  ).select_from(DECISIONS).where(*conditions)


# What deciding reads, in one statement: two rows of the lookup (the customer's decisions
# since `since`, and whether the incident id was decided, their counts in `grants`), then the
# running totals' rows (service.store.grant_queries).
_BEFORE_DECIDING = Prepared(union_all(
    _decisions("prior_failures", DECISIONS.c.customer_id == bindparam("customer_id"),
               DECISIONS.c.decided_at >= bindparam("since")),
    _decisions("decided", DECISIONS.c.incident_id == bindparam("incident_id")),
    *SUMS_BEFORE_DECIDING))
_INSERT_DECISION = Prepared(insert(DECISIONS))
# SQLite: a decision's offers in one executemany of a plain INSERT (SQLite runs one
# statement an execute, so the decision is one more): cheaper than reading JSON records.
_INSERT_OFFERS = Prepared(insert(OFFERS))


# PostgreSQL: the decision and its offers in one statement (one round trip), the same
# statement whatever the number of offers: the offers are one JSON parameter, a record each
# (cheaper for the driver to send than an array per column). The offers' foreign key sees
# the decision the WITH inserts.
_INSERT_WITH_OFFERS = Prepared(text("""
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
FROM json_to_recordset(CAST(:offers AS JSON))
  AS offer(id VARCHAR, number INTEGER, remedy VARCHAR, amount_minor BIGINT, currency VARCHAR,
           variant VARCHAR, source VARCHAR, approval VARCHAR, approver_role VARCHAR,
           state VARCHAR)
""").bindparams(bindparam("request", type_=JSON), bindparam("result", type_=JSON),
               bindparam("offers", type_=JSON)))


class DecidingQueries:
    def __init__(self, work: DbapiTransaction):
        self._work = work

    def before_deciding(self, incident: Incident, principal_id: str, since: datetime,
                        day_start: datetime,
                        window_start: datetime) -> tuple[KnownIncident, GrantedSoFar]:
        """Whether the incident was decided before and the customer's decisions since
        `since`, and the running totals a decision on the incident by the principal is made
        against (as GrantQueries.before_deciding reads them): one query
        (tests/store/test_decision_statements.py holds it to plain reads of each)."""
        rows = self._work.rows(_BEFORE_DECIDING, {
            "customer_id": incident.customer.id, "since": since,
            "incident_id": incident.incident_id, "principal": principal_id,
            "day_start": day_start, "order_id": incident.order.id,
            "window_start": window_start})
        counts = {row.scope: row.grants for row in rows}  # the lookup's rows among them
        return (KnownIncident(prior_failures=counts["prior_failures"],
                              decided=counts["decided"] > 0), granted_so_far(rows))

    def add(self, decision: Decision, incident: Incident, principal: Principal,
            request: Mapping[str, object], request_fingerprint: str,
            moment: datetime) -> StoredDecision:
        """Record a decision and its offers (each `proposed`): on PostgreSQL in one
        statement (one round trip), the offers as one JSON parameter, a record each; on
        SQLite (in process) in two, the offers by executemany."""
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
        records = [dict(  # each offer's columns but the decision's id and the moment
            id=offer.id, number=offer.number, remedy=offer.remedy,
            amount_minor=to_minor(offer.value.amount, offer.value.currency),
            currency=offer.value.currency, variant=offer.variant, source=offer.source,
            approval=offer.approval, approver_role=offer.approver_role, state=offer.state)
            for offer in offers]
        if records and self._work.dialect.name == "postgresql":
            self._work.run(_INSERT_WITH_OFFERS, {**row, "offers": records})
        else:
            self._work.run(_INSERT_DECISION, row)
            if records:
                self._work.run_many(_INSERT_OFFERS, [
                    {**record, "decision_id": decision_id, "state_changed_at": moment}
                    for record in records])
        return StoredDecision(
            id=decision_id, decision=decision, offers=offers, decided_at=moment,
            customer_id=incident.customer.id, order_id=incident.order.id,
            principal=principal.id, request=request)
