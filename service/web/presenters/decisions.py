"""Decisions as the API contract spells them (the shape `schemas.decision` documents)."""

from __future__ import annotations

from collections.abc import Mapping

from service.app.decisions import DecisionWithActivity, Recorded
from service.domain.decision import Decision, Offer
from service.domain.records import StoredDecision, StoredOffer, offer_id
from service.web.presenters import moment_json, plain_decimal
from service.web.presenters.grants import approval_json, grant_json, outcome_json


def offer_json(offer: Offer, offer_ids: Mapping[int, str]) -> dict:
    return {
        "id": offer_ids[offer.number],
        "remedy": offer.remedy,
        "percent": plain_decimal(offer.percent),
        "value": offer.value.to_json(),
        "approval": offer.approval,
        "approver_role": offer.approver_role,
        "rule": offer.rule,
        "reason": offer.reason,
        "variant": offer.variant,
        "capped_from": (offer_ids[offer.capped_from]
                        if offer.capped_from is not None else None),
        "source": offer.source,
    }


def decision_json(decision: Decision, decision_id: str,
                  offer_ids: Mapping[int, str] | None = None) -> dict:
    """The decision as the core made it; offer ids by number (the store's ids when it was
    recorded, else made from `decision_id` as the store would)."""
    if offer_ids is None:
        offer_ids = {offer.number: offer_id(decision_id, offer.number)
                     for offer in decision.offers}
    return {
        "decision_id": decision_id,
        "incident_id": decision.incident_id,
        "policy": {"name": decision.policy_name, "version": decision.policy_version},
        "role": decision.role,
        "prior_failures": decision.prior_failures,
        "recovery": {
            "outlook": decision.outlook,
            "factors": [{"name": f.name, "effect": f.effect, "rule": f.rule}
                        for f in decision.factors],
        },
        "steps": [{"step": s.step, **({"after_days": s.after_days}
                                      if s.after_days is not None else {})}
                  for s in decision.steps],
        "offers": [offer_json(offer, offer_ids) for offer in decision.offers],
        "trace": [{"rule": r.id, "description": r.description, "priority": r.priority}
                  for r in decision.trace],
        "notes": list(decision.notes),
    }


def stored_decision_json(stored: StoredDecision, with_states: bool = True) -> dict:
    """A recorded decision with when it was decided and, unless it was just made, the
    current state of each offer."""
    document = decision_json(stored.decision, stored.id, stored.offer_ids)
    document["decided_at"] = moment_json(stored.decided_at)
    if with_states:
        states: dict[int, StoredOffer] = {offer.number: offer for offer in stored.offers}
        document["offers"] = [
            {**shown, "state": states[offer.number].state,
             "state_changed_at": moment_json(states[offer.number].state_changed_at)}
            for offer, shown in zip(stored.decision.offers, document["offers"], strict=True)]
    return document


def recorded_json(recorded: Recorded) -> dict:
    """The answer to POST /v1/decisions: a new decision as made, a replay as stored."""
    return stored_decision_json(recorded.stored, with_states=not recorded.created)


def found_json(found: DecisionWithActivity) -> dict:
    """The answer to GET /v1/decisions/<id>: the request it answered, who asked, and what
    was done about it since."""
    stored = found.stored
    return {**stored_decision_json(stored), "principal": stored.principal,
            "request": stored.request,
            "grants": [grant_json(grant) for grant in found.grants],
            "approval_requests": [approval_json(request)
                                  for request in found.approval_requests],
            "outcomes": [outcome_json(outcome) for outcome in found.outcomes]}
