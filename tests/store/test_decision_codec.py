"""The stored form of a decision: what is encoded decodes to the same decision, and rows
written by earlier releases still read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from service.app.intake import parse_incident
from service.domain.incident import History
from service.domain.money import Money
from service.domain.records import offer_id
from service.domain.vocabulary import Approval, FactorEffect, OfferSource, OfferVariant, Outlook
from service.store import decision_codec
from tests.conftest import design_example

MOMENT = datetime(2026, 5, 1, 9, 30, 15, 250, tzinfo=UTC)

# A `decisions.result` as the first release wrote it (trimmed to two offers and one rule).
LEGACY = {
    "decision_id": "d-1", "incident_id": "INC-1",
    "policy": {"name": "default", "version": "abc123"}, "role": "agent", "prior_failures": 2,
    "recovery": {"outlook": "uncertain", "factors": [
        {"name": "repeat_failure", "effect": "hurts", "rule": "repeat-failure"}]},
    "steps": [{"step": "acknowledge"}, {"step": "follow_up", "after_days": 3}],
    "offers": [
        {"id": "d-1.1", "remedy": "discount", "percent": "62.5",
         "value": {"amount": "75.00", "currency": "EUR"}, "approval": "required",
         "approver_role": "team_lead", "rule": "discount-severe", "reason": "Severe.",
         "variant": "full", "capped_from": None, "source": "policy"},
        {"id": "d-1.2", "remedy": "discount", "percent": "41.66",
         "value": {"amount": "50.00", "currency": "EUR"}, "approval": "not_required",
         "approver_role": None, "rule": "discount-severe", "reason": "Capped.",
         "variant": "capped", "capped_from": "d-1.1", "source": "policy"}],
    "trace": [{"rule": "repeat-failure", "description": "Again.", "priority": 100}],
    "notes": ["a note"],
    "decided_at": "2026-05-01T09:30:15.000250+00:00",
}


def test_a_decision_round_trips(shipped):
    body = design_example()
    decision = shipped.decide(parse_incident(body, shipped.policy), "agent", History())
    ids = {offer.number: offer_id("d-9", offer.number) for offer in decision.offers}
    document = decision_codec.encode(decision, "d-9", ids, MOMENT)
    assert document["decided_at"] == MOMENT.isoformat()
    decoded = decision_codec.decode(document, {ids[n]: n for n in ids})
    assert decoded.offers == decision.offers and len(decoded.offers) == 5
    assert decoded.offers[1].capped_from == 1
    assert (decoded.outlook, decoded.factors, decoded.steps, decoded.notes) == (
        decision.outlook, decision.factors, decision.steps, decision.notes)
    assert (decoded.incident_id, decoded.policy_version, decoded.role,
            decoded.prior_failures) == (decision.incident_id, decision.policy_version,
                                        "agent", 0)
    assert [(r.id, r.description, r.priority) for r in decoded.trace] == [
        (r.id, r.description, r.priority) for r in decision.trace]
    # What is decoded encodes to the very same document.
    assert decision_codec.encode(decoded, "d-9", ids, MOMENT) == document


def test_a_row_of_the_first_release_reads(shipped):
    decoded = decision_codec.decode(LEGACY, {"d-1.1": 1, "d-1.2": 2})
    assert decoded.outlook == Outlook.UNCERTAIN and decoded.prior_failures == 2
    assert decoded.factors[0].effect == FactorEffect.HURTS
    assert [(s.step, s.after_days) for s in decoded.steps] == [("acknowledge", None),
                                                              ("follow_up", 3)]
    full, capped = decoded.offers
    assert (full.number, full.value, full.percent, full.approval) == (
        1, Money(Decimal("75.00"), "EUR"), Decimal("62.5"), Approval.REQUIRED)
    assert (capped.variant, capped.capped_from, capped.source) == (
        OfferVariant.CAPPED, 1, OfferSource.POLICY)
    assert decoded.trace[0].id == "repeat-failure"
    encoded = decision_codec.encode(decoded, "d-1", {1: "d-1.1", 2: "d-1.2"}, MOMENT)
    assert encoded == LEGACY
