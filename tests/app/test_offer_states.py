"""One state machine for offers (issue 9, defect 3): proposed → approval_pending → granted or
rejected. A rejection binds: nobody grants a rejected offer, directly or by approving a new
request, and nobody asks for it again. A direct grant of a pending offer closes its request
as granted. The stored state always agrees with the grant rows."""

from __future__ import annotations

import threading

import pytest

from service.app.approvals import approve, list_approvals, reject, request_approval
from service.app.errors import Conflict, Invalid, NeedsApproval
from service.app.grants import grant_offer, grant_together
from service.domain.vocabulary import OfferState, RequestState
from service.store.unit_of_work import UnitOfWork
from tests.app.conftest import offer


@pytest.fixture
def rejected(decide, staff, run, shipped):
    """An agent's refund (120.00 EUR), asked for and rejected by a team lead."""
    agent = staff("agent")
    refund = offer(decide(agent), "refund")
    asked = run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id, None))
    run(lambda uow: reject(uow, shipped.policy, staff("team_lead"), asked.request.id,
                           "not for a late parcel"))
    return agent, refund, asked.request


def states(run, offer_id):
    """The offer's state, its grants and its pending request, read together."""
    def read(uow):
        stored = uow.offers.get(offer_id)
        grants = [g for g in uow.grants.of_decision(stored.decision_id)
                  if g.offer_id == offer_id]
        return stored.state, grants, uow.approvals.pending_for(offer_id)
    return run(read)


def test_after_a_rejection_nobody_asks_again_so_nobody_approves_it(rejected, staff, run,
                                                                   shipped, store):
    agent, refund, first = rejected
    with pytest.raises(Conflict, match=r"rejected.*a new decision"):
        run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id, "again"))
    with pytest.raises(Conflict, match="rejected"):  # nor anyone else
        run(lambda uow: request_approval(uow, shipped.policy, staff("agent"), refund.id, None))
    lead = staff("team_lead")
    pending = list_approvals(store, shipped.policy, lead, RequestState.PENDING, 200)
    assert refund.id not in {request.offer_id for request in pending.requests}
    with pytest.raises(Conflict, match="already rejected"):
        run(lambda uow: approve(uow, shipped.policy, lead, first.id))
    assert states(run, refund.id) == (OfferState.REJECTED, [], None)


def test_another_team_lead_does_not_grant_a_rejected_offer_directly(rejected, staff, run,
                                                                    shipped):
    _, refund, _ = rejected
    for role in ("team_lead", "supervisor", "manager"):
        with pytest.raises(Conflict, match="rejected"):
            run(lambda uow, role=role: grant_offer(uow, shipped.policy, staff(role), refund.id))
    assert states(run, refund.id) == (OfferState.REJECTED, [], None)


def test_an_offer_referred_for_a_spent_budget_and_rejected_is_not_granted_by_another_agent(
        decide, staff, run, shipped):
    agent = staff("agent")
    # Decided before any grant, each offers 50.00 EUR of capped store credit.
    *credits, credit = [offer(decide(agent), "store_credit", "capped") for _ in range(11)]
    for earlier in credits:  # 10 x 50.00 EUR: the agent's daily budget of 500.00 EUR is spent
        run(lambda uow, earlier=earlier: grant_offer(uow, shipped.policy, agent, earlier.id))
    with pytest.raises(NeedsApproval, match="daily budget"):
        run(lambda uow: grant_offer(uow, shipped.policy, agent, credit.id))
    asked = run(lambda uow: request_approval(uow, shipped.policy, agent, credit.id, None))
    run(lambda uow: reject(uow, shipped.policy, staff("team_lead"), asked.request.id, "enough"))
    with pytest.raises(Conflict, match="rejected"):
        run(lambda uow: grant_offer(uow, shipped.policy, staff("agent"), credit.id))
    assert states(run, credit.id) == (OfferState.REJECTED, [], None)


def test_asking_then_granting_directly_closes_the_request_and_a_late_rejection_is_refused(
        decide, staff, run, shipped, store):
    agent, lead, other_lead = staff("agent"), staff("team_lead"), staff("team_lead")
    refund = offer(decide(agent), "refund")
    asked = run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id, "please"))
    grant = run(lambda uow: grant_offer(uow, shipped.policy, lead, refund.id))
    closed = run(lambda uow: uow.approvals.get(asked.request.id))
    assert (closed.status, closed.decided_by, closed.decided_at, closed.note) == (
        "granted", lead.id, grant.granted_at, "please")
    with pytest.raises(Conflict, match="already granted"):
        run(lambda uow: reject(uow, shipped.policy, other_lead, asked.request.id, "too late"))
    with pytest.raises(Conflict, match="already granted"):
        run(lambda uow: approve(uow, shipped.policy, other_lead, asked.request.id))
    pending = list_approvals(store, shipped.policy, other_lead, RequestState.PENDING, 200)
    assert asked.request.id not in {request.id for request in pending.requests}
    listed = list_approvals(store, shipped.policy, other_lead, "granted", 200)
    assert asked.request.id in {request.id for request in listed.requests}
    assert states(run, refund.id) == (OfferState.GRANTED, [grant], None)
    with pytest.raises(Conflict, match="already granted"):  # and nobody asks for it again
        run(lambda uow: request_approval(uow, shipped.policy, agent, refund.id, None))


def test_approving_checks_the_offer_state_too(decide, staff, run, shipped):
    """A granted offer has no pending request left; asking is refused, not answered with a
    request nobody could approve."""
    agent = staff("agent")
    waived = offer(decide(agent), "waived_shipping")
    run(lambda uow: grant_offer(uow, shipped.policy, agent, waived.id))
    with pytest.raises(Conflict, match="already granted"):
        run(lambda uow: request_approval(uow, shipped.policy, agent, waived.id, None))
    assert states(run, waived.id)[0] == OfferState.GRANTED


def race(store, refusals=(Conflict,), **operations) -> dict[str, str]:
    """Run each operation in a unit of work of its own, all at once: done or refused (one of
    `refusals` raised); anything else raised leaves the operation out of the results."""
    start, results = threading.Barrier(len(operations)), {}

    def attempt(name, operation):
        start.wait(5)
        try:
            with UnitOfWork(store) as uow:
                operation(uow)
            results[name] = "done"
        except refusals:
            results[name] = "refused"

    threads = [threading.Thread(target=attempt, args=item) for item in operations.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_a_rejection_racing_a_direct_grant_leaves_one_of_them(decide, staff, run, shipped,
                                                              store):
    """Both lock the offer and read it again under the lock: whichever comes second is
    refused, and the offer's state agrees with its grant either way."""
    for _ in range(4):
        agent, lead, other = staff("agent"), staff("team_lead"), staff("team_lead")
        refund = offer(decide(agent), "refund")
        asked = run(lambda uow, a=agent, o=refund: request_approval(
            uow, shipped.policy, a, o.id, None))
        results = race(
            store,
            grant=lambda uow, o=refund, lead=lead: grant_offer(uow, shipped.policy, lead, o.id),
            reject=lambda uow, r=asked, other=other: reject(uow, shipped.policy, other,
                                                            r.request.id, "no"))
        assert sorted(results.values()) == ["done", "refused"], results
        state, grants, pending = states(run, refund.id)
        assert pending is None
        assert (state == OfferState.GRANTED) == bool(grants) == (results["grant"] == "done")
        assert (state == OfferState.REJECTED) == (results["reject"] == "done")


def test_a_set_naming_another_decisions_offer_never_deadlocks_a_grant_on_it(
        decide, staff, run, shipped, store):
    """A grant that withdraws a pending request holds the order's key, then takes the key of
    the request's offer. A set granted on another decision of the same order, naming that
    offer by mistake, had locked the offer and then waited for the order: on PostgreSQL a
    deadlock, and one of the two (the valid grant, at times) a 500. The set is refused, the
    grant made, every time."""
    for _ in range(6):
        agent = staff("agent")
        first = decide(agent)
        second = decide(staff("agent"), order=dict(first.stored.request["order"]))
        refund, credit = offer(first, "refund"), offer(first, "store_credit", "capped")
        run(lambda uow, a=agent, o=refund: request_approval(uow, shipped.policy, a, o.id, None))
        results = race(
            store, refusals=(Conflict, Invalid),
            grant=lambda uow, o=credit: grant_offer(uow, shipped.policy, staff("supervisor"),
                                                    o.id),
            set=lambda uow, d=second, o=refund: grant_together(
                uow, shipped.policy, staff("agent"), d.stored.id,
                [offer(d, "waived_shipping").id, o.id]))
        assert results == {"grant": "done", "set": "refused"}, results
        assert states(run, refund.id)[0] == OfferState.PROPOSED  # its request withdrawn
