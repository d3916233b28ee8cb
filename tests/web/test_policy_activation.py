"""Activation through the API: a version that would orphan stored work is refused (422,
naming the work, shown as the last refusal and recorded); `/readyz` says when a worker is
behind the active version; liveness never asks the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.app import policy_reload
from service.app.active_policy import ActivePolicy, PolicySource
from service.store import clock
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork
from service.web.app_factory import create_app
from tests.conftest import DEV_KEYS, auth, design_example, test_settings
from tests.support.openapi_check import violations
from tests.support.policy_files import copy_policy, renamed_role, rewrite, without_gbp


@pytest.fixture
def folder(tmp_path) -> Path:
    return copy_policy(tmp_path / "policy")


@pytest.fixture
def serve(fresh_store):
    """A test client serving `folder` on the test's own store."""
    loaded = []

    def serve(folder: Path, **settings):
        active = ActivePolicy.load(folder)
        loaded.append(active)
        return create_app(test_settings(**settings), active_policy=active,
                          store=fresh_store).test_client()

    yield serve
    for active in loaded:
        active.program.close()


def reload(client):
    return client.post("/v1/policy/reload", headers=auth("manager"))


def assert_refused(client, fresh_store, reason: str, serving: str) -> None:
    response = reload(client)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert reason in response.json["reasons"], response.json["reasons"]
    assert response.json["active_version"] == serving
    shown = client.get("/v1/policy", headers=auth()).json
    assert shown["version"] == serving and reason in shown["last_refused"]["reasons"]
    assert active_version(fresh_store) == serving
    with UnitOfWork(fresh_store) as uow:
        by, refused = uow.policies.refusals(1)[0]
    assert (by, refused.trigger) == ("dev-manager", "api:dev-manager")
    assert reason in refused.reasons


def test_a_version_removing_the_role_of_pending_requests_is_refused(serve, folder,
                                                                   fresh_store, tmp_path):
    keys = tmp_path / "keys.yaml"  # no team_lead key: a version without the role may serve
    kept = DEV_KEYS.read_text().split("  - principal: dev-team-lead\n")
    keys.write_text(kept[0] + kept[1].split("\n", 2)[2])
    client = serve(folder, api_keys_file=keys)
    serving = client.get("/v1/policy", headers=auth()).json["version"]
    decision = client.post("/v1/decisions", json=design_example(), headers=auth()).json
    refund = next(o for o in decision["offers"]
                  if o["remedy"] == "refund" and o["variant"] == "full")
    asked = client.post(f"/v1/offers/{refund['id']}/approval-request", headers=auth())
    assert asked.status_code == 201 and asked.json["approver_role"] == "team_lead"

    rewrite(folder, renamed_role)  # a valid version, whose own tests pass
    assert_refused(client, fresh_store, "1 pending approval request is for role team_lead, "
                   f"which this version removes (decision {decision['decision_id']})", serving)
    decided = client.post("/v1/decisions", json=design_example(), headers=auth())
    assert decided.json["policy"]["version"] == serving

    approved = client.post(f"/v1/approvals/{asked.json['id']}/approve",
                           headers=auth("manager"))
    assert approved.status_code == 201, approved.json
    response = reload(client)  # nothing pending for team_lead any more
    assert response.status_code == 200 and response.json["changed"], response.json
    assert response.json["policy"]["escalation"] == ["agent", "shift_lead", "supervisor",
                                                     "manager"]


def test_a_version_dropping_the_currency_of_open_offers_is_refused(serve, folder,
                                                                 fresh_store):
    client = serve(folder)
    serving = client.get("/v1/policy", headers=auth()).json["version"]
    offers, decisions = 0, []
    for _ in range(2):
        body = design_example(order__currency="GBP")
        decision = client.post("/v1/decisions", json=body, headers=auth()).json
        offers += len(decision["offers"])
        decisions.append(decision["decision_id"])
    eur = client.post("/v1/decisions", json=design_example(), headers=auth()).json
    assert all(o["value"]["currency"] == "EUR" for o in eur["offers"])

    rewrite(folder, without_gbp)
    first, second = sorted(decisions)
    assert_refused(client, fresh_store, f"{offers} stored offers are in GBP, which this "
                   f"version drops (decisions {first} and {second})", serving)


def test_readyz_says_when_a_worker_is_behind_the_active_version(serve, folder, fresh_store):
    client = serve(folder, policy_poll_seconds=0.001)
    serving = client.get("/readyz").json["policy_version"]
    broken = PolicySource.read(folder).texts()
    broken["roles.yaml"] = broken["roles.yaml"].replace("escalation:", "escalatio:")
    with UnitOfWork(fresh_store) as uow:
        uow.policies.activate("newer-version", "default", broken, "elsewhere", "test",
                              clock.now())
    response = client.get("/readyz")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert (response.json["serving_version"], response.json["active_version"]) == (
        serving, "newer-version")
    assert violations(client.get("/openapi.json").json, "/readyz", "GET", 503,
                      response.json) == []
    assert f"serving policy version {serving}" in response.json["detail"]
    assert "newer-version" in response.json["detail"] and response.headers["Retry-After"]
    decision = client.post("/v1/decisions", json=design_example(), headers=auth())
    assert decision.status_code == 201 and decision.json["policy"]["version"] == serving

    assert reload(client).status_code == 200  # the folder activated again: caught up
    assert client.get("/readyz").status_code == 200


def test_liveness_and_metrics_never_ask_the_database(serve, folder, monkeypatch):
    client = serve(folder, policy_poll_seconds=0.001)
    asked = []
    monkeypatch.setattr(policy_reload, "active_version",
                        lambda store: asked.append(1) or active_version(store))
    for path in ("/healthz", "/metrics", "/healthz"):
        assert client.get(path).status_code == 200
    assert asked == []
    client.get("/v1/policy", headers=auth())
    assert asked == [1]
