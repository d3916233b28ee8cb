"""A retried call with the same Idempotency-Key gets the first answer; the key is not reused
for another request."""

from __future__ import annotations

import uuid

import pytest

from service.app.errors import KeyReused, NeedsApproval
from service.app.grants import grant_offer
from service.app.idempotency import run_once
from service.domain.records import Answer, Grant
from tests.app.conftest import offer


class Renderer:
    """Renders a grant as a route would, and counts how often it is asked to."""

    def __init__(self):
        self.calls = 0

    def __call__(self, grant: Grant) -> Answer:
        self.calls += 1
        return Answer(201, {"grant_id": grant.id, "amount": str(grant.value.amount)})


def test_the_same_key_gives_the_first_answer_and_grants_once(decide, staff, run, shipped,
                                                             store):
    agent = staff("agent")
    recorded = decide(agent)
    waived = offer(recorded, "waived_shipping")
    key, route, render = uuid.uuid4().hex, f"/v1/offers/{waived.id}/grant", Renderer()

    def once():
        return run_once(store, agent, key, route, {}, lambda uow: grant_offer(
            uow, shipped.policy, agent, waived.id), render)

    first, again = once(), once()
    assert first == again and render.calls == 1
    assert first.status == 201 and first.document["amount"] == "7.50"
    grants = run(lambda uow: uow.grants.of_decision(recorded.stored.id))
    assert [grant.id for grant in grants] == [first.document["grant_id"]]


def test_a_key_reused_for_another_request_is_refused(decide, staff, shipped, store):
    agent = staff("agent")
    recorded = decide(agent)
    waived, discount = offer(recorded, "waived_shipping"), offer(recorded, "discount")
    key = uuid.uuid4().hex

    def grant(offer_id):
        return run_once(store, agent, key, f"/v1/offers/{offer_id}/grant", {},
                        lambda uow: grant_offer(uow, shipped.policy, agent, offer_id),
                        Renderer())

    grant(waived.id)
    with pytest.raises(KeyReused, match=key):
        grant(discount.id)
    # The key is the principal's own: another principal may use it for anything.
    lead = staff("team_lead")
    other = run_once(store, lead, key, f"/v1/offers/{discount.id}/grant", {},
                     lambda uow: grant_offer(uow, shipped.policy, lead, discount.id),
                     Renderer())
    assert other.status == 201


def test_a_refusal_is_not_kept(decide, staff, shipped, store):
    agent = staff("agent")
    refund = offer(decide(agent), "refund")
    key, render = uuid.uuid4().hex, Renderer()
    for _ in range(2):
        with pytest.raises(NeedsApproval):
            run_once(store, agent, key, f"/v1/offers/{refund.id}/grant", {},
                     lambda uow: grant_offer(uow, shipped.policy, agent, refund.id), render)
    assert render.calls == 0


def test_without_a_key_every_call_runs(decide, staff, shipped, store):
    agent = staff("agent")
    recorded = decide(agent)
    render = Renderer()
    for remedy in ("waived_shipping", "discount"):
        target = offer(recorded, remedy)
        run_once(store, agent, None, f"/v1/offers/{target.id}/grant", {},
                 lambda uow, target=target: grant_offer(uow, shipped.policy, agent, target.id),
                 render)
    assert render.calls == 2
