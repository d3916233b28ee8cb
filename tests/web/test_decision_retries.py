"""A retry of a decided incident answers the stored decision even when the intake now refuses
its body: another version dropped a word it names (a tier, here), or a later release checks
it more strictly. Only the same body word for word is replayed; anything else is still the
intake's 422, and nothing is stored."""

import pytest

from service.app.active_policy import ActivePolicy
from service.web.app_factory import create_app
from tests.conftest import auth, design_example, test_settings
from tests.support.policy_files import copy_policy, edit


@pytest.fixture(scope="module")
def with_diamond(tmp_path_factory) -> ActivePolicy:
    """The shipped policy with one tier more."""
    folder = copy_policy(tmp_path_factory.mktemp("diamond") / "policy")
    edit(folder, "policy.yaml", "customer_tiers: [standard, silver, gold, platinum]",
         "customer_tiers: [standard, silver, gold, platinum, diamond]")
    return ActivePolicy.load(folder)


@pytest.fixture
def clients(with_diamond, shipped, store):
    """Two servers on one store: one serves the version with the tier, one the shipped."""
    wider = create_app(test_settings(), active_policy=with_diamond, store=store)
    narrower = create_app(test_settings(), active_policy=shipped, store=store)
    return wider.test_client(), narrower.test_client()


def count_decisions(client, customer_id: str) -> int:
    answer = client.get(f"/v1/customers/{customer_id}/history", headers=auth("manager"))
    assert answer.status_code == 200, answer.json
    return len(answer.json["incidents"])


def test_a_retry_after_the_tier_is_dropped_replays_the_decision(clients):
    wider, narrower = clients
    body = design_example(customer__tier="diamond")
    first = wider.post("/v1/decisions", json=body, headers=auth())
    assert first.status_code == 201, first.json

    again = narrower.post("/v1/decisions", json=body, headers=auth())

    assert again.status_code == 200, again.json
    assert again.json["decision_id"] == first.json["decision_id"]
    assert [offer["id"] for offer in again.json["offers"]] == [
        offer["id"] for offer in first.json["offers"]]
    assert count_decisions(narrower, body["customer"]["id"]) == 1


def test_another_body_for_a_decided_incident_is_still_refused(clients):
    wider, narrower = clients
    body = design_example(customer__tier="diamond")
    assert wider.post("/v1/decisions", json=body, headers=auth()).status_code == 201
    other = {**body, "failure": {**body["failure"], "description": "parcel three days late"}}

    answer = narrower.post("/v1/decisions", json=other, headers=auth())

    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert "customer.tier" in answer.json["errors"]
    assert count_decisions(narrower, body["customer"]["id"]) == 1


@pytest.mark.parametrize("incident_id", [None, 42, "", "x" * 101, "a\x00b"])
def test_a_refused_body_never_decided_is_refused_as_before(clients, incident_id):
    _, narrower = clients
    body = design_example(customer__tier="diamond")
    if incident_id is None:
        del body["incident_id"]
    else:
        body["incident_id"] = incident_id

    answer = narrower.post("/v1/decisions", json=body, headers=auth())

    assert answer.status_code == 422
    assert "customer.tier" in answer.json["errors"]
    assert count_decisions(narrower, body["customer"]["id"]) == 0


def test_a_new_incident_with_a_dropped_tier_is_refused(clients):
    _, narrower = clients
    body = design_example(customer__tier="diamond")

    answer = narrower.post("/v1/decisions", json=body, headers=auth())

    assert answer.status_code == 422
    assert answer.json["errors"]["customer.tier"] == [
        "Unknown tier; use one of standard, silver, gold, platinum."]
    assert count_decisions(narrower, body["customer"]["id"]) == 0
