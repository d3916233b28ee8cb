"""The `result` column of a stored decision: a `Decision` as a JSON document, and back.

The stored format is the store's own, kept readable for every row ever written: the keys of
the first release (offers carry their ids, `capped_from` names an offer id, `decided_at` is
kept beside the column of the same name). The API's answer happens to look alike, but is
built by the web layer's presenters from the decoded `Decision`, never read from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from service.domain.decision import Decision, EntitlementUse, FactorUse, Offer, Withdrawn
from service.domain.grant_now import GrantNow
from service.domain.grant_rule import GrantedSoFar
from service.domain.money import Money, round_money
from service.domain.policy_terms import Step
from service.domain.records import TracedRule
from service.domain.vocabulary import (
    Approval,
    FactorEffect,
    OfferSource,
    OfferVariant,
    Outlook,
)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _offer(offer: Offer, ids: Mapping[int, str]) -> dict:
    return {
        "id": ids[offer.number],
        "remedy": offer.remedy,
        "percent": _decimal_text(offer.percent),
        "value": {"amount": str(round_money(offer.value.amount, offer.value.currency)),
                  "currency": offer.value.currency},
        "approval": offer.approval,
        "approver_role": offer.approver_role,
        "rule": offer.rule,
        "reason": offer.reason,
        "variant": offer.variant,
        "capped_from": None if offer.capped_from is None else ids[offer.capped_from],
        "source": offer.source,
    }


def encode(decision: Decision, decision_id: str, offer_ids: Mapping[int, str],
           decided_at: datetime) -> dict:
    """The document stored in `decisions.result`; `offer_ids` maps offer numbers to ids."""
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
        "offers": [_offer(offer, offer_ids) for offer in decision.offers],
        "trace": [{"rule": r.id, "description": r.description, "priority": r.priority}
                  for r in decision.trace],
        "notes": list(decision.notes),
        "decided_at": decided_at.isoformat(),
        **({} if decision.grant_now is None else {"grant_now": _grant_now(decision.grant_now,
                                                                          offer_ids)}),
        # Kept only when there are some, so a document of the first release reads back
        # and encodes to itself.
        **({"entitlements": [entitlement_json(e) for e in decision.entitlements]}
           if decision.entitlements else {}),
        **({"withdrawn": [withdrawn_json(w) for w in decision.withdrawn]}
           if decision.withdrawn else {}),
        **({"granted_before": _granted_json(decision.granted)}
           if decision.granted != GrantedSoFar() else {}),
    }


def _granted_json(granted: GrantedSoFar) -> dict:
    """What was granted before the decision, per scope and currency, as it was decided on."""
    return {**{scope: {currency: str(amount) for currency, amount in
                       sorted(getattr(granted, scope).items())}
               for scope in ("incident", "agent_today", "order", "customer_window")},
            "customer_grants_in_window": granted.customer_grants_in_window}


def _decoded_granted(stored: Mapping | None) -> GrantedSoFar:
    if stored is None:
        return GrantedSoFar()
    return GrantedSoFar(**{scope: {currency: Decimal(amount) for currency, amount in
                                   stored[scope].items()}
                           for scope in ("incident", "agent_today", "order", "customer_window")},
                        customer_grants_in_window=stored["customer_grants_in_window"])


def entitlement_json(entitlement: EntitlementUse) -> dict:
    return {"name": entitlement.name, "description": entitlement.description,
            "rule": entitlement.rule}


def withdrawn_json(withdrawn: Withdrawn) -> dict:
    return {withdrawn.what: withdrawn.name, "rule": withdrawn.rule,
            "reason": withdrawn.reason, "from_rules": list(withdrawn.from_rules)}


def _grant_now(chosen: GrantNow, ids: Mapping[int, str]) -> dict:
    return {"offers": [ids[offer.number] for offer in chosen.offers],
            "total": {"amount": str(round_money(chosen.total.amount, chosen.total.currency)),
                      "currency": chosen.total.currency}}


def decode(document: Mapping, offer_numbers: Mapping[str, int]) -> Decision:
    """The decision a stored document holds; `offer_numbers` maps the offer ids of the
    `offers` table to their numbers."""
    recovery = document["recovery"]
    offers = tuple(_decoded_offer(offer, offer_numbers) for offer in document["offers"])
    return Decision(
        incident_id=document["incident_id"],
        policy_name=document["policy"]["name"],
        policy_version=document["policy"]["version"],
        role=document["role"],
        prior_failures=document["prior_failures"],
        outlook=Outlook(recovery["outlook"]),
        factors=tuple(FactorUse(f["name"], FactorEffect(f["effect"]), f["rule"])
                      for f in recovery["factors"]),
        steps=tuple(Step(s["step"], s.get("after_days")) for s in document["steps"]),
        offers=offers,
        trace=tuple(TracedRule(r["rule"], r["description"], r["priority"])
                    for r in document["trace"]),
        notes=tuple(document["notes"]),
        grant_now=_decoded_grant_now(document.get("grant_now"), offers, offer_numbers),
        entitlements=tuple(EntitlementUse(e["name"], e["description"], e["rule"])
                           for e in document.get("entitlements", ())),
        withdrawn=tuple(_decoded_withdrawn(w) for w in document.get("withdrawn", ())),
        granted=_decoded_granted(document.get("granted_before")),
    )


def _decoded_withdrawn(stored: Mapping) -> Withdrawn:
    what = "remedy" if "remedy" in stored else "entitlement"
    return Withdrawn(what, stored[what], stored["rule"], stored["reason"],
                     tuple(stored["from_rules"]))


def _decoded_grant_now(stored: Mapping | None, offers: tuple[Offer, ...],
                       numbers: Mapping[str, int]) -> GrantNow | None:
    """None for a decision stored before grant_now was part of the answer."""
    if stored is None:
        return None
    by_number = {offer.number: offer for offer in offers}
    total = stored["total"]
    return GrantNow(tuple(by_number[numbers[offer_id]] for offer_id in stored["offers"]),
                    Money(Decimal(total["amount"]), total["currency"]))


def _decoded_offer(offer: Mapping, numbers: Mapping[str, int]) -> Offer:
    percent = offer["percent"]
    capped_from = offer["capped_from"]
    return Offer(
        number=numbers[offer["id"]],
        remedy=offer["remedy"],
        value=Money(Decimal(offer["value"]["amount"]), offer["value"]["currency"]),
        percent=None if percent is None else Decimal(percent),
        approval=Approval(offer["approval"]),
        approver_role=offer["approver_role"],
        rule=offer["rule"],
        reason=offer["reason"],
        variant=OfferVariant(offer["variant"]),
        capped_from=None if capped_from is None else numbers[capped_from],
        source=OfferSource(offer["source"]),
    )
