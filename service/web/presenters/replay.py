"""A what-if replay's report as the API (and `amends policy replay --json`) spell it: the
shape `schemas.replay.ReplayReportSchema` documents."""

from __future__ import annotations

from decimal import Decimal

from service.app.replay import Candidate, Replay
from service.domain.decision import Decision
from service.domain.money import round_money
from service.domain.offer import Offer
from service.domain.replay import Changed, ReplayTally
from service.store import keyset
from service.web.presenters import moment_json, plain_decimal

CURSOR_LIST = "replay"  # the one list a replay cursor holds a position of


def replay_json(result: Replay, candidate: Candidate) -> dict:
    tally = result.tally
    return {
        "candidate": {"name": result.policy_name, "version": result.policy_version,
                      "source": candidate.source,
                      "failing_tests": list(candidate.failing_tests)},
        "period": {"since": moment_json(result.since), "until": moment_json(result.until)},
        "limit": result.limit,
        "in_period": result.in_period,
        "replayed": tally.read,
        "replayed_from": moment_json(tally.oldest),
        "replayed_to": moment_json(tally.newest),
        "compared": tally.compared,
        "not_decidable": tally.not_decidable_count,
        "not_decidable_reasons": [{"reason": reason, "decisions": count}
                                  for reason, count in tally.not_decidable.most_common()],
        "role_missing": tally.role_missing_count,
        "role_missing_roles": [{"role": role, "decisions": count}
                               for role, count in tally.role_missing.most_common()],
        "changed": {
            "decisions": tally.changed, "outlook": tally.outlook_changed,
            "offers": tally.offers_changed, "approvals": tally.approvals_changed,
            "outlook_moves": [{"before": before, "after": after, "decisions": count}
                              for (before, after), count in tally.outlook_moves.most_common()],
        },
        "money": money_rows(tally),
        "approval_free_unknown": tally.approval_free_unknown,
        "rules": [{"rule": rule, "fired_before": before, "fired_after": after}
                  for rule, before, after in tally.rules()],
        "sample": [changed_json(changed) for changed in tally.sample],
        "complete": result.complete,
        "next_cursor": keyset.encode({CURSOR_LIST: result.resume_after}),
        "seconds": round(result.seconds, 3),
        "per_second": round(tally.read / result.seconds, 1) if result.seconds else 0.0,
    }


def money_rows(tally: ReplayTally) -> list[dict]:
    def amount(totals: dict[str, Decimal], currency: str) -> str:
        return str(round_money(totals.get(currency, Decimal(0)), currency))

    return [{"currency": currency,
             "offered_before": amount(tally.offered_before, currency),
             "offered_after": amount(tally.offered_after, currency),
             "approval_free_before": amount(tally.approval_free_before, currency),
             "approval_free_after": amount(tally.approval_free_after, currency)}
            for currency in tally.currencies()]


def changed_json(changed: Changed) -> dict:
    stored, difference = changed.stored, changed.difference
    before, after = stored.decision, changed.after
    return {
        "decision_id": stored.id,
        "incident_id": stored.incident_id,
        "decided_at": moment_json(stored.decided_at),
        "role": stored.role,
        "changed": [name for name in ("outlook", "offers", "approvals")
                    if getattr(difference, name)],
        "before": answer_json(before),
        "after": answer_json(after),
        "added": [offer_json(offer, after) for offer in difference.added],
        "removed": [offer_json(offer, before) for offer in difference.removed],
    }


def answer_json(decision: Decision) -> dict:
    chosen = decision.grant_now
    return {
        "policy_version": decision.policy_version,
        "outlook": decision.outlook,
        "offers": [offer_json(offer, decision) for offer in decision.offers],
        "grant_now_total": None if chosen is None else chosen.total.to_json(),
        "rules": [rule.id for rule in decision.trace],
    }


def offer_json(offer: Offer, decision: Decision) -> dict:
    chosen = decision.grant_now
    return {
        "remedy": offer.remedy,
        "variant": offer.variant,
        "value": offer.value.to_json(),
        "percent": plain_decimal(offer.percent),
        "approval": offer.approval,
        "approver_role": offer.approver_role,
        "rule": offer.rule,
        "in_grant_now": chosen is not None and any(o.number == offer.number
                                                   for o in chosen.offers),
    }
