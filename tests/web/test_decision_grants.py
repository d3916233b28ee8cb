"""grant_now in the answer, and POST /v1/decisions/{id}/grants: several offers of one
decision granted in one call, all or none (issue 10)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from service.store import clock
from service.web.app_factory import create_app
from tests.conftest import DESIGN_EXAMPLE, auth, design_example, test_settings
from tests.support.openapi_check import violations
from tests.web.conftest import as_, decide, grants_stored, offer


@pytest.fixture
def readme_client(shipped, fresh_store):
    """The README's world: the development keys, a store of its own (dev-agent has spent
    nothing today)."""
    return create_app(test_settings(), active_policy=shipped, store=fresh_store).test_client()


@pytest.fixture
def client(staff_app):
    app, _ = staff_app
    return app.test_client()


@pytest.fixture
def store(staff_app):
    return staff_app[1]


def grant_set(client, decision, ids, who="agent-set", key=None):
    """`who`: a principal of the staff app; None: the development agent."""
    headers = {**(auth() if who is None else as_(who)),
               **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/v1/decisions/{decision['decision_id']}/grants", json={"offers": ids},
                       headers=headers)


def ids_of(decision, *wanted):
    """Offer ids by (remedy, variant)."""
    return [offer(decision, remedy, variant)["id"] for remedy, variant in wanted]


def fresh(**changes):
    """The README example with an order and a customer of its own."""
    tag = uuid.uuid4().hex[:10]
    return {"customer__id": f"C-{tag}", "order__id": f"O-{tag}", **changes}


# --- the README example, through the API ---------------------------------------------------

def test_the_readme_example_tells_the_truth(readme_client):
    response = readme_client.post("/v1/decisions", json=DESIGN_EXAMPLE, headers=auth("agent"))
    assert response.status_code == 201
    decision = response.json
    table = [(o["remedy"], o["variant"], o["value"]["amount"], o["approval"],
              o["approver_role"]) for o in decision["offers"]]
    assert table == [("refund", "full", "120.00", "required", "team_lead"),
                     ("store_credit", "capped", "50.00", "not_required", None),
                     ("store_credit", "full", "5.00", "not_required", None),
                     ("discount", "full", "12.00", "not_required", None),
                     ("waived_shipping", "full", "7.50", "not_required", None)]
    capped = offer(decision, "store_credit", "capped")
    assert capped["reason"].startswith("Closest to the customer's ask")
    assert decision["grant_now"]["offers"] == [capped["id"]]
    assert decision["grant_now"]["total"] == {"amount": "50.00", "currency": "EUR"}
    assert decision["grant_now"]["role"] == "agent"
    assert decision["grant_now"]["as_of"] == decision["decided_at"]

    # The one-call grant, as the README shows it; a retry with the key gets the same answer.
    path = f"/v1/decisions/{decision['decision_id']}/grants"
    headers = {**auth("agent"), "Idempotency-Key": "INC-1001-grant"}
    granted = readme_client.post(path, json={"offers": decision["grant_now"]["offers"]},
                                 headers=headers)
    assert granted.status_code == 201, granted.json
    assert granted.json["total"] == {"amount": "50.00", "currency": "EUR"}
    assert [g["offer_id"] for g in granted.json["grants"]] == [capped["id"]]
    again = readme_client.post(path, json={"offers": decision["grant_now"]["offers"]},
                               headers=headers)
    assert (again.status_code, again.json) == (201, granted.json)

    # Afterwards, for the agent: nothing else fits beside it.
    shown = readme_client.get(f"/v1/decisions/{decision['decision_id']}",
                              headers=auth("agent")).json
    assert shown["grant_now"]["offers"] == []
    assert shown["grant_now"]["total"] == {"amount": "0.00", "currency": "EUR"}
    states = {o["id"]: (o["state"], o["grantable_now"]) for o in shown["offers"]}
    assert states[capped["id"]] == ("granted", False)
    discount = offer(shown, "discount")
    assert (discount["approval"], discount["approver_role"]) == ("required", "team_lead")
    assert discount["not_grantable_because"] == [
        "12.00 EUR would exceed the agent per-incident limit of 50.00 EUR (50.00 EUR already "
        "granted on this incident)"]


def test_a_team_lead_is_offered_the_refund_with_what_combines_with_it(client):
    decision = decide(client, "lead-1", **fresh())
    chosen = {o["id"]: o["remedy"] for o in decision["offers"]
              if o["id"] in decision["grant_now"]["offers"]}
    assert sorted(chosen.values()) == ["discount", "refund", "waived_shipping"]
    assert decision["grant_now"]["total"]["amount"] == "139.50"
    response = grant_set(client, decision, decision["grant_now"]["offers"], who="lead-1")
    assert response.status_code == 201, response.json
    assert response.json["total"] == {"amount": "139.50", "currency": "EUR"}


# --- all or none ---------------------------------------------------------------------------

def test_a_set_with_one_offer_over_the_limit_grants_nothing_and_names_that_offer(
        client, store):
    decision = decide(client, "agent-set", **fresh())
    # 50.00 store credit, then the 12.00 discount: the discount would cross the limit.
    credit, discount = ids_of(decision, ("store_credit", "capped"), ("discount", "full"))
    before = grants_stored(store)
    response = grant_set(client, decision, [credit, discount])
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json
    assert [o["offer_id"] for o in problem["offers"]] == [discount]
    assert problem["offers"][0]["approver_role"] == "team_lead"
    assert problem["offers"][0]["reasons"] == [
        "12.00 EUR would exceed the agent per-incident limit of 50.00 EUR (50.00 EUR already "
        "granted on this incident) (counting the 1 offer of this set before it as granted)"]
    assert problem["grants_since_decision"] == 0
    assert violations(client.get("/openapi.json").json, "/v1/decisions/{decision_id}/grants",
                      "POST", 403, problem) == []
    assert "Nothing was granted" in problem["detail"]
    assert "changed since" not in problem["detail"]
    assert grants_stored(store) == before
    shown = client.get(f"/v1/decisions/{decision['decision_id']}", headers=as_("agent-set"))
    assert {o["state"] for o in shown.json["offers"]} == {"proposed"}
    # Without the offers named, the rest goes through.
    assert grant_set(client, decision, [credit]).status_code == 201


def test_each_offer_is_checked_with_the_earlier_ones_of_the_set_counted(client, store):
    decision = decide(client, "agent-set", **fresh())
    credit, discount = ids_of(decision, ("store_credit", "capped"), ("discount", "full"))
    # One after another in the order given: whichever comes second crosses the limit.
    over = grant_set(client, decision, [discount, credit])
    assert over.status_code == 403
    assert [o["offer_id"] for o in over.json["offers"]] == [credit]
    assert over.json["offers"][0]["reasons"] == [
        "50.00 EUR would exceed the agent per-incident limit of 50.00 EUR (12.00 EUR already "
        "granted on this incident) (counting the 1 offer of this set before it as granted)"]
    small, shipping = ids_of(decision, ("store_credit", "full"), ("waived_shipping", "full"))
    response = grant_set(client, decision, [small, discount, shipping])
    assert response.status_code == 201, response.json
    assert response.json["total"]["amount"] == "24.50"
    assert [g["offer_id"] for g in response.json["grants"]] == [small, discount, shipping]


def test_offers_that_do_not_combine_are_409_whatever_the_limits(client, store):
    decision = decide(client, "lead-2", **fresh())
    refund, small = ids_of(decision, ("refund", "full"), ("store_credit", "full"))
    before = grants_stored(store)
    response = grant_set(client, decision, [refund, small], who="lead-2")
    assert response.status_code == 409
    assert "store_credit and refund do not combine" in response.json["detail"]
    assert grants_stored(store) == before


def test_what_a_decision_grants_in_all_stays_under_the_goodwill_ceiling(client, store):
    """150 % of the order value is a hard ceiling on compensation (design): each offer is
    held under it, and so are the offers a decision grants together. A refund of the whole
    150.00 on a 100.00 order leaves no room for the discount or the waived shipping."""
    decision = decide(client, "supervisor-1", **fresh(
        order__value="100.00", order__shipping_fee="40.00", failure__severity=2,
        failure__avoidable=True, customer_ask={"remedy": "refund", "amount": "150.00"}))
    refund, discount, shipping = ids_of(decision, ("refund", "full"), ("discount", "full"),
                                        ("waived_shipping", "full"))
    assert [o["approval"] for o in decision["offers"]] == ["not_required"] * 3
    assert decision["grant_now"]["offers"] == [refund]
    before = grants_stored(store)
    together = grant_set(client, decision, [refund, discount], who="supervisor-1")
    assert together.status_code == 409, together.json
    assert ("(discount): it would bring what this decision grants to 170.00 EUR, above the "
            "goodwill ceiling of 150.00 EUR (150% of the order value)") in together.json["detail"]
    assert grants_stored(store) == before
    assert client.post(f"/v1/offers/{refund}/grant", headers=as_("supervisor-1")).status_code \
        == 201
    one_more = client.post(f"/v1/offers/{shipping}/grant", headers=as_("supervisor-1"))
    assert one_more.status_code == 409 and "goodwill ceiling" in one_more.json["detail"]
    shown = client.get(f"/v1/decisions/{decision['decision_id']}",
                       headers=as_("supervisor-1")).json
    assert shown["grant_now"]["offers"] == []
    assert not offer(shown, "discount")["grantable_now"]
    assert "goodwill ceiling" in offer(shown, "discount")["not_grantable_because"][0]


def test_a_refused_set_names_only_the_offers_past_the_ceiling(client, store):
    """An offer the set cannot take is not counted against the offers after it: with a
    100.00 refund on a 100.00 order, the 60.00 discount is past the ceiling, the 40.00 of
    waived shipping is not (it goes through beside the refund)."""
    decision = decide(client, "supervisor-1", **fresh(
        order__value="100.00", order__shipping_fee="40.00", failure__severity=4,
        customer_ask={"remedy": "refund", "amount": "100.00"}))
    refund, discount, shipping = ids_of(decision, ("refund", "full"), ("discount", "full"),
                                        ("waived_shipping", "full"))
    assert offer(decision, "discount")["value"]["amount"] == "60.00"
    refused = grant_set(client, decision, [refund, discount, shipping], who="supervisor-1")
    assert refused.status_code == 409
    assert "(discount): it would bring what this decision grants to 160.00 EUR" in \
        refused.json["detail"]
    assert "waived_shipping" not in refused.json["detail"]
    granted = grant_set(client, decision, [refund, shipping], who="supervisor-1")
    assert granted.status_code == 201 and granted.json["total"]["amount"] == "140.00"


def test_a_set_granted_after_another_grant_changed_the_totals_says_so(client):
    customer = fresh()
    first = decide(client, "agent-set", **customer)
    second = decide(client, "agent-set-2", **{**customer, "order__id": f"O-{uuid.uuid4()}"})
    assert second["grant_now"]["total"]["amount"] == "50.00"
    # Meanwhile three grants of 50.00 to the customer spend the agent's 150.00 EUR cap.
    for who in ("agent-set-3", "agent-set-4"):
        other = decide(client, who, **{**customer, "order__id": f"O-{uuid.uuid4()}"})
        assert grant_set(client, other, other["grant_now"]["offers"], who=who).status_code == 201
    assert grant_set(client, first, first["grant_now"]["offers"]).status_code == 201
    late = grant_set(client, second, second["grant_now"]["offers"], who="agent-set-2")
    assert late.status_code == 403
    assert late.json["grants_since_decision"] == 3
    assert "running totals changed since this decision was made" in late.json["detail"]
    assert "per-customer cap" in late.json["offers"][0]["reasons"][0]
    # A fresh look shows what is left now: nothing of the customer cap.
    shown = client.get(f"/v1/decisions/{second['decision_id']}", headers=as_("agent-set-2"))
    assert shown.json["grant_now"]["offers"] == []


def test_grants_since_the_decision_count_only_those_in_the_totals_of_now(readme_client,
                                                                        monkeypatch):
    """The caller's grants of an earlier day (the shipped policy's days start in UTC) on other
    customers' orders count toward none of today's totals: a refusal the next day does not
    say they changed them."""
    moment = [datetime(2026, 6, 1, 10, tzinfo=UTC)]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    first = readme_client.post("/v1/decisions", json=design_example(), headers=auth())
    assert first.status_code == 201, first.json
    for hour in (11, 12, 13):
        moment[0] = datetime(2026, 6, 1, hour, tzinfo=UTC)
        other = readme_client.post("/v1/decisions", json=design_example(), headers=auth()).json
        assert grant_set(readme_client, other, other["grant_now"]["offers"],
                         who=None).status_code == 201
    moment[0] = datetime(2026, 6, 2, 9, tzinfo=UTC)
    refund = offer(first.json, "refund")["id"]
    refused = grant_set(readme_client, first.json, [refund], who=None)
    assert refused.status_code == 403
    assert refused.json["grants_since_decision"] == 0
    assert "running totals changed" not in refused.json["detail"]
    # The same day, all three count toward the caller's daily budget.
    moment[0] = datetime(2026, 6, 1, 14, tzinfo=UTC)
    assert grant_set(readme_client, first.json, [refund],
                     who=None).json["grants_since_decision"] == 3


# --- what the body may name -----------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({}, "offers"), ({"offers": []}, "offers"), ({"offers": "x"}, "offers"),
    ({"offers": ["a", "a"]}, "offers"), ({"offers": [1]}, "offers.0"),
    ({"offers": ["a"], "extra": 1}, "extra")])
def test_a_body_that_names_no_set_is_422(client, store, body, field):
    decision = decide(client, "agent-set", **fresh())
    before = grants_stored(store)
    response = client.post(f"/v1/decisions/{decision['decision_id']}/grants", json=body,
                           headers=as_("agent-set"))
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert grants_stored(store) == before


def test_an_offer_of_another_decision_is_422_naming_it(client, store):
    decision, other = decide(client, "agent-set", **fresh()), decide(client, "agent-set",
                                                                     **fresh())
    before = grants_stored(store)
    response = grant_set(client, decision, [decision["grant_now"]["offers"][0],
                                            other["grant_now"]["offers"][0]])
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["offers.1"]
    assert grants_stored(store) == before


def test_an_unknown_decision_is_404(client):
    response = client.post("/v1/decisions/no-such-decision/grants", json={"offers": ["x"]},
                           headers=as_("agent-set"))
    assert response.status_code == 404


def test_a_granted_offer_in_the_set_is_409_and_nothing_else_is_granted(client, store):
    decision = decide(client, "agent-set", **fresh())
    small, discount = ids_of(decision, ("store_credit", "full"), ("discount", "full"))
    assert grant_set(client, decision, [small]).status_code == 201
    before = grants_stored(store)
    response = grant_set(client, decision, [discount, small])
    assert response.status_code == 409
    assert "already granted" in response.json["detail"]
    assert grants_stored(store) == before


# --- GET: where the offers stand for the caller now -----------------------------------------

def test_get_recomputes_approvals_and_grant_now_for_whoever_asks(client):
    decision = decide(client, "agent-set", **fresh())
    path = f"/v1/decisions/{decision['decision_id']}"
    as_agent = client.get(path, headers=as_("agent-set")).json
    assert as_agent["grant_now"]["offers"] == decision["grant_now"]["offers"]
    assert as_agent["grant_now"]["role"] == "agent"
    as_lead = client.get(path, headers=as_("lead-1")).json
    refund = offer(as_lead, "refund")
    assert (refund["approval"], refund["grantable_now"]) == ("not_required", True)
    assert as_lead["grant_now"]["role"] == "team_lead"
    assert refund["id"] in as_lead["grant_now"]["offers"]
    # The stored decision itself is unchanged: a new look is not a new decision.
    assert offer(as_agent, "refund")["approval"] == "required"


def test_a_decision_made_after_grants_counts_them(client):
    customer = fresh()
    first = decide(client, "agent-set", **customer)
    assert grant_set(client, first, first["grant_now"]["offers"]).status_code == 201
    second = decide(client, "agent-set", **customer)  # another incident on the same order
    assert grant_set(client, second, ids_of(second, ("discount", "full"))).status_code == 201
    # 62.00 of the agent's 100.00 EUR order cap is spent: what is left sets the variant.
    third = decide(client, "agent-set-2", **customer)
    capped = offer(third, "store_credit", "capped")
    assert capped["value"]["amount"] == "38.00"
    assert "what is left of your per-order cap of 100.00 EUR" in capped["reason"]
    assert offer(third, "discount")["approval"] == "not_required"
    assert third["grant_now"]["offers"] == [capped["id"]]
    assert grant_set(client, third, [capped["id"]], who="agent-set-2").status_code == 201
    # The order cap is spent: nothing is approval-free, and no variant is offered.
    last = decide(client, "agent-set-2", **customer)
    assert last["grant_now"]["offers"] == []
    assert last["grant_now"]["total"]["amount"] == "0.00"
    assert {(o["approval"], o["approver_role"]) for o in last["offers"]} == {
        ("required", "team_lead")}
    assert not any(o["variant"] == "capped" for o in last["offers"])


def test_a_granted_set_is_counted_once_per_grant_and_not_again_on_replay(client):
    def counted(remedy):
        return REGISTRY.get_sample_value("amends_grants_total",
                                         {"remedy": remedy, "role": "agent"}) or 0

    decision = decide(client, "agent-set", **fresh())
    ids = ids_of(decision, ("discount", "full"), ("waived_shipping", "full"))
    before = counted("discount"), counted("waived_shipping")
    key = uuid.uuid4().hex
    first = grant_set(client, decision, ids, key=key)
    assert first.status_code == 201
    assert grant_set(client, decision, ids, key=key).json == first.json
    assert (counted("discount"), counted("waived_shipping")) == (before[0] + 1, before[1] + 1)


def test_a_refusal_says_the_set_was_counted_only_where_it_counts(client, store):
    """'agent may not grant refund' owes nothing to the offers before it in the set."""
    decision = decide(client, "agent-set", **fresh())
    shipping, refund = ids_of(decision, ("waived_shipping", "full"), ("refund", "full"))
    refused = grant_set(client, decision, [shipping, refund])
    assert refused.status_code == 403
    reasons = refused.json["offers"][0]["reasons"]
    assert reasons[0] == "agent may not grant refund"
    assert all(reason.endswith("(counting the 1 offer of this set before it as granted)")
               for reason in reasons[1:]), reasons
