"""Money limits held where the rest of the suite did not look (each test fails when the
limit it names is broken: found by mutating the code): a set granted together counts its
earlier offers in the daily budget, the customer's cap and the abuse signal; an approver
approves within its own daily budget, and is named without it; the 30-day window's edge;
who decides past the abuse signal; a rejection is final whoever asks."""
from __future__ import annotations

import uuid

import pytest

from service.app.approvals import request_approval
from service.app.errors import SetNeedsApproval
from service.app.grants import grant_offer, grant_together
from tests.app.conftest import offer


def spend(decide, run, shipped, agent, amounts_of, **changes):
    """Grant, as `agent`, the named offers of fresh README decisions."""
    for remedies in amounts_of:
        rec = decide(agent, **changes)
        for remedy, variant in remedies:
            o = offer(rec, remedy, variant)
            run(lambda uow, o=o: grant_offer(uow, shipped.policy, agent, o.id))


def test_a_set_counts_its_earlier_offers_in_the_daily_budget(decide, staff, run, shipped):
    agent = staff("agent")
    # 9 x 50.00 (capped store credit) + 12.00 + 7.50 + 12.00 = 481.50 EUR today
    spend(decide, run, shipped, agent, [[("store_credit", "capped")]] * 9
          + [[("discount", "full"), ("waived_shipping", "full")], [("discount", "full")]])
    rec = decide(agent)
    ids = [offer(rec, "discount").id, offer(rec, "waived_shipping").id]
    # 481.50 + 12.00 = 493.50 fits; + 7.50 = 501.00 passes the 500.00 EUR daily budget
    with pytest.raises(SetNeedsApproval) as refused:
        run(lambda uow: grant_together(uow, shipped.policy, agent, rec.stored.id, ids))
    assert [r.remedy for r in refused.value.refusals] == ["waived_shipping"]


def test_a_set_counts_its_earlier_offers_in_the_customer_cap(decide, staff, run, shipped):
    customer = f"C-{uuid.uuid4().hex[:12]}"
    lead, agent = staff("team_lead"), staff("agent")
    refund = offer(decide(lead, customer__id=customer), "refund")  # 120.00
    run(lambda uow: grant_offer(uow, shipped.policy, lead, refund.id))
    rec = decide(agent, customer__id=customer)
    ids = [offer(rec, "discount").id, offer(rec, "waived_shipping").id]
    # 120.00 + 12.00 = 132.00, + 7.50 = 139.50 fit... use one more discount first
    d = offer(decide(staff("agent"), customer__id=customer), "discount")
    run(lambda uow: grant_offer(uow, shipped.policy, staff("agent"), d.id))  # 132.00
    # the set: 132.00 + 12.00 = 144.00 fits; + 7.50 = 151.50 passes the 150.00 EUR cap
    with pytest.raises(SetNeedsApproval) as refused:
        run(lambda uow: grant_together(uow, shipped.policy, agent, rec.stored.id, ids))
    assert [r.remedy for r in refused.value.refusals] == ["waived_shipping"]


def test_a_set_counts_its_earlier_offers_toward_the_abuse_signal(decide, staff, run,
                                                                  shipped):
    customer = f"C-{uuid.uuid4().hex[:12]}"
    for _ in range(3):  # 3 grants to the customer in the window; the threshold is 4
        a = staff("agent")
        w = offer(decide(a, customer__id=customer), "waived_shipping")
        run(lambda uow, a=a, w=w: grant_offer(uow, shipped.policy, a, w.id))
    agent = staff("agent")
    rec = decide(agent, customer__id=customer)
    ids = [offer(rec, "discount").id, offer(rec, "waived_shipping").id]
    # the first of the set is the 4th grant; the second would be the 5th, past the signal
    with pytest.raises(SetNeedsApproval) as refused:
        run(lambda uow: grant_together(uow, shipped.policy, agent, rec.stored.id, ids))
    assert [r.remedy for r in refused.value.refusals] == ["waived_shipping"]


def test_the_approver_of_a_spent_daily_budget_is_judged_without_its_own_budget(
        decide, staff, run, shipped):
    """rules/README.md: approver_role is the first role whose limits and caps cover it
    (its own daily budget is checked when it approves)."""
    agent = staff("agent")
    spend(decide, run, shipped, agent, [[("store_credit", "capped")]] * 9
          + [[("discount", "full"), ("waived_shipping", "full")],
             [("discount", "full"), ("waived_shipping", "full")]])  # 489.00 EUR today
    rec = decide(agent)
    discount = offer(rec, "discount")  # 12.00: 501.00 > 500.00
    asked = run(lambda uow: request_approval(uow, shipped.policy, agent, discount.id, None))
    assert asked.request.approver_role == "agent"


def test_an_offer_pending_approval_stands_grantable_for_its_approver(decide, staff, run,
                                                                    store, shipped):
    """README: GET /v1/decisions/{id} says for you now `grantable_now`; a pending offer may
    be granted directly (offer_states: approval_pending --grant--> granted)."""
    from service.app.decisions import decision_now
    agent, lead = staff("agent"), staff("team_lead")
    rec = decide(agent)
    refund = offer(rec, "refund")
    run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id, None))
    now = decision_now(store, shipped.policy, lead, rec.stored.id).now.standing
    standing_refund = now.offers[refund.number]
    assert standing_refund.grantable, standing_refund.why_not
    assert refund.number in [o.number for o in now.grant_now.offers]
    run(lambda uow: grant_offer(uow, shipped.policy, lead, refund.id))  # and it is


def test_past_the_abuse_signal_a_request_of_a_dropped_role_needs_the_top_role(
        decide, staff, run, shipped):
    """grant_rule.clears_abuse: asked under a version that had the requester's role, only
    the top role approves past the abuse signal."""
    from dataclasses import replace

    from service.app.approvals import approve
    from service.app.errors import NeedsApproval
    agent = staff("agent")
    rec = decide(agent)
    refund = offer(rec, "refund")
    request = run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id,
                                               None)).request
    assert request.approver_role == "team_lead"
    for _ in range(shipped.policy.abuse_grants_in_window):
        other = decide(staff("agent"), customer__id=rec.stored.customer_id)
        w = offer(other, "waived_shipping")
        run(lambda uow, w=w: grant_offer(uow, shipped.policy, staff("agent"), w.id))
    without_agent = replace(shipped.policy, escalation=tuple(
        r for r in shipped.policy.escalation if r != "agent"))
    with pytest.raises(NeedsApproval):
        run(lambda uow: approve(uow, without_agent, staff("team_lead"), request.id))


def test_grants_29_and_a_half_days_old_count_in_the_30_day_window(decide, staff, run,
                                                                   shipped, monkeypatch):
    from datetime import timedelta

    from service.app.errors import NeedsApproval
    from service.store import clock
    customer = f"C-{uuid.uuid4().hex[:12]}"
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() - timedelta(days=29, hours=12))
    for _ in range(shipped.policy.abuse_grants_in_window):
        a = staff("agent")
        w = offer(decide(a, customer__id=customer), "waived_shipping")
        run(lambda uow, a=a, w=w: grant_offer(uow, shipped.policy, a, w.id))
    monkeypatch.setattr(clock, "now", real_now)
    agent = staff("agent")
    d = offer(decide(agent, customer__id=customer), "discount")
    with pytest.raises(NeedsApproval) as refused:
        run(lambda uow: grant_offer(uow, shipped.policy, agent, d.id))
    assert refused.value.reasons[0].startswith("abuse signal: 4 grants")


def test_an_approver_approves_within_their_own_daily_budget(decide, staff, run, shipped):
    """approve: "within the approver's own limits and daily budget"."""
    from service.app.approvals import approve
    from service.app.errors import NeedsApproval
    lead = staff("team_lead")
    for _ in range(14):  # 14 x (120.00 + 12.00 + 7.50) = 1953.00 EUR today
        rec = decide(lead)
        ids = [o.id for o in rec.stored.offers
               if o.number in {x.number for x in rec.stored.decision.grant_now.offers}]
        run(lambda uow, rec=rec, ids=ids: grant_together(uow, shipped.policy, lead,
                                                         rec.stored.id, ids))
    agent = staff("agent")
    refund = offer(decide(agent), "refund")
    request = run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id,
                                               None)).request
    with pytest.raises(NeedsApproval) as refused:  # 1953.00 + 120.00 > 2000.00
        run(lambda uow: approve(uow, shipped.policy, lead, request.id))
    assert "daily budget" in refused.value.reasons[0]


def test_a_rejected_offer_beyond_the_callers_limits_is_refused_as_rejected(decide, staff, run,
                                                                          shipped):
    from service.app.approvals import reject
    from service.app.errors import Conflict
    agent = staff("agent")
    refund = offer(decide(agent), "refund")
    request = run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id,
                                               None)).request
    run(lambda uow: reject(uow, shipped.policy, staff("team_lead"), request.id, "no"))
    with pytest.raises(Conflict, match="rejection is final"):
        run(lambda uow: grant_offer(uow, shipped.policy, staff("agent"), refund.id))
