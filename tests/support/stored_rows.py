"""Rows written straight into a store, for tests that need stored work without deciding it."""

from sqlalchemy import insert

from service.store import clock
from service.store.models import DecisionRow, OfferRow


def store_open_gbp_offer(store, policy_version: str = "v") -> None:
    """Decision `d-1` in GBP with one open (proposed) offer, `d-1.1`: work a version that
    drops GBP would orphan."""
    moment = clock.now()
    with store.transaction() as session:
        session.execute(insert(DecisionRow.__table__).values(
            id="d-1", incident_id="INC-1", request_hash="h", customer_id="C", order_id="O",
            currency="GBP", principal="p", role="agent", policy_name="default",
            policy_version=policy_version, outlook="likely", request={}, result={},
            decided_at=moment))
        session.execute(insert(OfferRow.__table__).values(
            id="d-1.1", decision_id="d-1", number=1, remedy="discount", amount_minor=500,
            currency="GBP", variant="full", source="policy", approval="not_required",
            state="proposed", state_changed_at=moment))
