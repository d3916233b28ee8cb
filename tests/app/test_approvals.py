"""Asking for approval, approving (which grants), rejecting, and the approvers' lists."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.app.approvals import approve, list_approvals, reject, request_approval
from service.app.errors import Conflict, Forbidden, NeedsApproval
from service.app.grants import grant_offer
from service.domain.vocabulary import OfferState, RequestState
from service.store.keyset import CursorInvalid
from tests.app.conftest import offer


@pytest.fixture
def asked(decide, staff, run, shipped):
    """An agent's pending request for approval of the customer's refund (120.00 EUR)."""
    agent = staff("agent")
    recorded = decide(agent)
    refund = offer(recorded, "refund")
    result = run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id, "please"))
    return agent, refund, result


def test_a_request_goes_to_the_lowest_role_that_may_grant(asked, run, shipped):
    agent, refund, result = asked
    request = result.request
    assert result.created and request.status == RequestState.PENDING
    assert (request.offer_id, request.approver_role, request.note) == (
        refund.id, "team_lead", "please")
    assert (request.requested_by, request.requested_role) == (agent.id, "agent")
    assert request.reasons[0] == "agent may not grant refund" and len(request.reasons) == 3
    assert run(lambda uow: uow.offers.get(refund.id)).state == OfferState.APPROVAL_PENDING
    again = run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id, None))
    assert not again.created and again.request == request


def test_approving_grants_the_offer(asked, staff, run, shipped):
    _, refund, result = asked
    lead = staff("team_lead")
    approved = run(lambda uow: approve(uow, shipped.policy, lead, result.request.id))
    assert approved.request.status == RequestState.APPROVED
    assert approved.request.decided_by == lead.id
    assert approved.request.decided_at == approved.grant.granted_at
    grant = approved.grant
    assert (grant.offer_id, grant.principal, grant.role, grant.approval_request_id) == (
        refund.id, lead.id, "team_lead", result.request.id)
    assert run(lambda uow: uow.offers.get(refund.id)).state == OfferState.GRANTED
    assert run(lambda uow: uow.approvals.get(result.request.id)) == approved.request
    with pytest.raises(Conflict, match="already approved"):
        run(lambda uow: approve(uow, shipped.policy, staff("manager"), result.request.id))


def test_rejecting_closes_the_request_and_the_offer(asked, staff, run, shipped):
    _, refund, result = asked
    manager = staff("manager")
    rejected = run(lambda uow: reject(uow, shipped.policy, manager, result.request.id,
                                      "not for a late parcel"))
    # The rejection's reason is kept beside the requester's note, never over it.
    assert (rejected.status, rejected.decided_by, rejected.note, rejected.decision_reason) == (
        RequestState.REJECTED, manager.id, "please", "not for a late parcel")
    assert run(lambda uow: uow.approvals.get(result.request.id)) == rejected
    assert run(lambda uow: uow.offers.get(refund.id)).state == OfferState.REJECTED
    with pytest.raises(Conflict, match="already rejected"):
        run(lambda uow: approve(uow, shipped.policy, manager, result.request.id))


def test_nobody_decides_their_own_request_nor_one_above_their_role(asked, staff, run,
                                                                    shipped):
    agent, _, result = asked
    with pytest.raises(Forbidden, match="their own"):
        run(lambda uow: approve(uow, shipped.policy, agent, result.request.id))
    with pytest.raises(Forbidden, match="needs team_lead or above; you are agent"):
        run(lambda uow: reject(uow, shipped.policy, staff("agent"), result.request.id, "no"))
    pending = run(lambda uow: uow.approvals.get(result.request.id))
    assert pending.status == RequestState.PENDING


def test_an_offer_within_the_callers_limits_may_still_be_referred(decide, staff, run,
                                                                  shipped):
    agent = staff("agent")
    waived = offer(decide(agent), "waived_shipping")
    request = run(lambda uow: request_approval(uow, shipped.policy, agent, waived.id,
                                               None)).request
    assert (request.approver_role, request.reasons, request.note) == (
        "agent", ("requested although within the caller's limits",), None)


def test_past_the_abuse_signal_only_a_role_above_the_requester_approves(decide, staff, run,
                                                                        shipped):
    """A request filed within the agent's limits goes to any agent; once the customer has had
    four grants since, another agent approves no more than they could grant themselves: a
    team lead does."""
    requester, colleague, lead = staff("agent"), staff("agent"), staff("team_lead")
    recorded = decide(requester)
    discount = offer(recorded, "discount")
    request = run(lambda uow: request_approval(uow, shipped.policy, requester, discount.id,
                                               None)).request
    assert request.approver_role == "agent"
    customer = recorded.stored.customer_id
    for _ in range(shipped.policy.abuse_grants_in_window):  # others' grants to the customer
        other = decide(staff("agent"), customer__id=customer)
        granted = offer(other, "waived_shipping")
        run(lambda uow, granted=granted: grant_offer(uow, shipped.policy, staff("agent"),
                                                     granted.id))
    with pytest.raises(NeedsApproval) as refused:
        run(lambda uow: approve(uow, shipped.policy, colleague, request.id))
    assert refused.value.approver == "team_lead"
    assert any(reason.startswith("abuse signal") for reason in refused.value.reasons)
    assert run(lambda uow: uow.offers.get(discount.id)).state == OfferState.APPROVAL_PENDING
    approved = run(lambda uow: approve(uow, shipped.policy, lead, request.id))
    assert (approved.grant.offer_id, approved.grant.role) == (discount.id, "team_lead")


def test_pending_requests_are_listed_oldest_first_a_page_at_a_time(decide, staff, run,
                                                                   shipped, store):
    asked = []
    for _ in range(3):
        agent = staff("agent")
        refund = offer(decide(agent), "refund")
        asked.append(run(lambda uow, a=agent, o=refund: request_approval(
            uow, shipped.policy, a, o.id, None)).request.id)
    lead = staff("team_lead")
    seen, cursor, pages = [], None, 0
    while True:
        page = list_approvals(store, shipped.policy, lead, RequestState.PENDING, 2, cursor)
        assert page.status == RequestState.PENDING and len(page.requests) <= 2
        seen += [request.id for request in page.requests]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) and pages == (len(seen) + 1) // 2
    assert [request_id for request_id in seen if request_id in asked] == asked
    # Agents may approve nothing a team lead must.
    as_agent = list_approvals(store, shipped.policy, staff("agent"), RequestState.PENDING, 100)
    assert not set(asked) & {request.id for request in as_agent.requests}
    assert {request.approver_role for request in as_agent.requests} <= {"agent"}
    with pytest.raises(CursorInvalid):
        list_approvals(store, shipped.policy, lead, RequestState.PENDING, 2, "not-a-cursor")



def test_a_request_for_a_role_the_policy_no_longer_has_goes_to_the_top_role(asked, staff, run,
                                                                            shipped, store):
    """A request filed in the moment before a worker followed an activation that removed its
    approver role is decided by the top of the current chain, never a 500."""
    *_, result = asked  # a request for team_lead
    without_lead = replace(shipped.policy, escalation=tuple(
        role for role in shipped.policy.escalation if role != "team_lead"))
    with pytest.raises(Forbidden, match="manager or above"):
        run(lambda uow: approve(uow, without_lead, staff("supervisor"), result.request.id))
    listed = {item.request.id for item in list_approvals(
        store, without_lead, staff("manager"), RequestState.PENDING, 500).items}
    assert result.request.id in listed  # in the queue of the role that decides it
    approved = run(lambda uow: approve(uow, without_lead, staff("manager"), result.request.id))
    assert approved.request.status == RequestState.APPROVED


def test_a_pending_list_leaves_out_the_callers_own_requests(decide, staff, run, store,
                                                            shipped):
    """Nobody may decide their own request, so it is not in their queue; a colleague's is."""
    lead, colleague = staff("team_lead"), staff("team_lead")
    discount = offer(decide(lead, order={"id": "O-big", "value": "600.00", "currency": "EUR"},
                            customer_ask=None), "discount")  # within the lead's limits
    own = run(lambda uow: request_approval(uow, shipped.policy, lead, discount.id, None))

    def pending(who):
        return {item.request.id for item in list_approvals(
            store, shipped.policy, who, RequestState.PENDING, 500).items}
    assert own.request.id not in pending(lead)
    assert own.request.id in pending(colleague)


def test_an_approvers_note_is_kept_apart_from_the_requesters(asked, staff, run, shipped):
    *_, result = asked
    lead = staff("team_lead")
    approved = run(lambda uow: approve(uow, shipped.policy, lead, result.request.id,
                                       "once, as a gesture"))
    assert (approved.request.note, approved.request.decision_reason) == (
        "please", "once, as a gesture")
    assert run(lambda uow: uow.approvals.get(result.request.id)) == approved.request


def test_listed_requests_say_what_is_asked_and_for_whom(asked, staff, run, store, shipped):
    agent, refund, result = asked
    page = list_approvals(store, shipped.policy, staff("team_lead"), RequestState.PENDING, 200)
    item = next(item for item in page.items if item.request.id == result.request.id)
    recorded_decision = run(lambda uow: uow.decisions.get(refund.decision_id))
    assert (item.remedy, item.value.to_json(), item.decision_id) == (
        "refund", {"amount": "120.00", "currency": "EUR"}, refund.decision_id)
    assert (item.incident_id, item.customer_id, item.order_id, item.outlook) == (
        recorded_decision.decision.incident_id, recorded_decision.customer_id,
        recorded_decision.order_id, recorded_decision.decision.outlook)
    assert (item.request.requested_by, item.request.note) == (agent.id, "please")
    assert item.request.requested_at <= page.as_of


def test_the_callers_own_requests_in_every_state_a_page_at_a_time(decide, staff, run,
                                                                  shipped, store):
    agent, other = staff("agent"), staff("agent")
    lead, manager = staff("team_lead"), staff("manager")
    refunds = [offer(decide(who), "refund") for who in (agent, agent, agent, other)]
    mine = [run(lambda uow, o=refund: request_approval(
        uow, shipped.policy, agent, o.id, None)).request for refund in refunds[:3]]
    run(lambda uow: request_approval(uow, shipped.policy, other, refunds[3].id, None))
    run(lambda uow: approve(uow, shipped.policy, lead, mine[1].id))
    run(lambda uow: reject(uow, shipped.policy, manager, mine[2].id, "no"))
    seen, cursor = [], None
    while True:
        page = list_approvals(store, shipped.policy, agent, None, 1, cursor, mine=True)
        assert page.status is None and page.requested_by == agent.id
        seen += [(item.request.id, item.request.status) for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [(mine[0].id, RequestState.PENDING), (mine[1].id, RequestState.APPROVED),
                    (mine[2].id, RequestState.REJECTED)]
    rejected = list_approvals(store, shipped.policy, agent, RequestState.REJECTED, 200,
                              mine=True)
    assert [request.id for request in rejected.requests] == [mine[2].id]
    # An agent may approve none of them, yet sees their own pending one.
    pending = list_approvals(store, shipped.policy, agent, RequestState.PENDING, 200,
                             mine=True)
    assert [request.id for request in pending.requests] == [mine[0].id]
