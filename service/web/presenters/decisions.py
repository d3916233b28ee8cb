"""Decisions as the API contract spells them (the shape `schemas.decision` documents)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from service.app.decisions import DecisionNow, ForCaller, Preview, Recorded
from service.app.grants import GrantedTogether
from service.domain.decision import Decision, EntitlementUse, Offer, Withdrawn
from service.domain.grant_now import GrantNow
from service.domain.records import Answer, StoredDecision, StoredOffer, offer_id
from service.web.presenters import moment_json, plain_decimal
from service.web.presenters.grants import approval_json, grant_json, outcome_json


def grant_now_json(chosen: GrantNow | None, offer_ids: Mapping[int, str], role: str,
                   as_of: datetime | None) -> dict | None:
    """The offers `role` may grant together now, their total, and the moment of the running
    totals they were chosen against (None: a decision stored before grant_now existed)."""
    if chosen is None:
        return None
    return {"offers": [offer_ids[offer.number] for offer in chosen.offers],
            "total": chosen.total.to_json(), "role": role,
            "as_of": None if as_of is None else moment_json(as_of)}


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
        "entitlements": [entitlement_json(e) for e in decision.entitlements],
        "withdrawn": [withdrawn_json(w) for w in decision.withdrawn],
        "trace": [trace_json(r, decision) for r in decision.trace],
        "notes": list(decision.notes),
        "grant_now": grant_now_json(decision.grant_now, offer_ids, decision.role, None),
    }


def entitlement_json(entitlement: EntitlementUse) -> dict:
    return {"name": entitlement.name, "description": entitlement.description,
            "rule": entitlement.rule}


def withdrawn_json(withdrawn: Withdrawn) -> dict:
    """`{"remedy": kind}` or `{"entitlement": name}`, with the rule, its reason and the
    rules whose proposal it took back."""
    return {withdrawn.what: withdrawn.name, "rule": withdrawn.rule,
            "reason": withdrawn.reason, "from_rules": list(withdrawn.from_rules)}


def trace_json(rule, decision: Decision) -> dict:
    """A rule that fired; an exemption says what it withdrew."""
    shown = {"rule": rule.id, "description": rule.description, "priority": rule.priority}
    withdrew = [withdrawn_json(w) for w in decision.withdrawn if w.rule == rule.id]
    if withdrew:
        shown["withdrew"] = withdrew
    return shown


def stored_decision_json(stored: StoredDecision, with_states: bool = True) -> dict:
    """A recorded decision with when it was decided and, unless it was just made, the
    current state of each offer."""
    document = decision_json(stored.decision, stored.id, stored.offer_ids)
    document["decided_at"] = moment_json(stored.decided_at)
    if document["grant_now"] is not None:
        document["grant_now"]["as_of"] = document["decided_at"]
    if with_states:
        states: dict[int, StoredOffer] = {offer.number: offer for offer in stored.offers}
        document["offers"] = [
            {**shown, "state": states[offer.number].state,
             "state_changed_at": moment_json(states[offer.number].state_changed_at)}
            for offer, shown in zip(stored.decision.offers, document["offers"], strict=True)]
    return document


def recorded_json(recorded: Recorded) -> dict:
    """The answer to POST /v1/decisions: a new decision as made; a replay as stored, with
    each offer's state, and its approvals and grant_now for the caller now."""
    if recorded.now is None:
        return stored_decision_json(recorded.stored, with_states=False)
    return _for_caller(stored_decision_json(recorded.stored), recorded.stored, recorded.now)


def _for_caller(document: dict, stored: StoredDecision, now: ForCaller) -> dict:
    """The stored decision's document with each offer's approval, whether the caller may
    grant it now and why not, and a fresh grant_now."""
    for shown, offer in zip(document["offers"], stored.decision.offers, strict=True):
        current = now.standing.offers[offer.number]
        shown.update(approval=current.approval, approver_role=current.approver_role,
                     grantable_now=current.grantable,
                     not_grantable_because=list(current.why_not))
    document["grant_now"] = grant_now_json(now.standing.grant_now, stored.offer_ids, now.role,
                                           now.as_of)
    return document


def preview_json(preview: Preview) -> dict:
    """The answer to POST /v1/decisions/preview: the decision as made, under its preview id,
    with grant_now as of the moment of the running totals it was made against."""
    document = decision_json(preview.decision, preview.id)
    if document["grant_now"] is not None:
        document["grant_now"]["as_of"] = moment_json(preview.as_of)
    return document


def found_json(now: DecisionNow) -> dict:
    """The answer to GET /v1/decisions/<id>: the request it answered, who asked, what was
    done about it since, and for the caller now: each offer's approval and whether they may
    grant it, and a fresh grant_now."""
    found = now.found
    stored = found.stored
    document = _for_caller(stored_decision_json(stored), stored, now.now)
    return {**document, "principal": stored.principal,
            "request": stored.request,
            "grants": [grant_json(grant) for grant in found.grants],
            "approval_requests": [approval_json(request)
                                  for request in found.approval_requests],
            "outcomes": [outcome_json(outcome) for outcome in found.outcomes]}


def granted_together(result: GrantedTogether) -> Answer:
    """The answer to POST /v1/decisions/<id>/grants."""
    return Answer(201, {"decision_id": result.decision_id,
                        "grants": [grant_json(grant) for grant in result.grants],
                        "total": result.total.to_json()})
