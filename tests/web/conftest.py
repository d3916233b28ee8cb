"""Callers with their own keys (several agents, leads, a supervisor and a manager), so that
running totals, budgets and approvals of one test do not meet another's."""

import hashlib

import pytest
from sqlalchemy import func, select

from service.store.models import GrantRow
from service.web.app_factory import create_app
from tests.conftest import design_example, make_store, test_settings

PRINCIPALS = {  # key -> (principal, role)
    f"key-{name}": (name, role) for name, role in [
        ("agent-1", "agent"), ("agent-2", "agent"), ("agent-3", "agent"),
        ("agent-4", "agent"), ("agent-budget", "agent"), ("agent-set", "agent"),
        ("agent-set-2", "agent"), ("agent-set-3", "agent"), ("agent-set-4", "agent"),
        ("lead-1", "team_lead"), ("lead-2", "team_lead"),
        ("supervisor-1", "supervisor"), ("manager-1", "manager")]}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def staff_app(request, shipped, tmp_path_factory):
    """An app on each database whose keys are those of PRINCIPALS (`as_(name)`)."""
    keys = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys.write_text("keys:\n" + "".join(
        f"  - {{principal: {p}, role: {r}, sha256: '{hashlib.sha256(k.encode()).hexdigest()}'}}\n"
        for k, (p, r) in PRINCIPALS.items()))
    store = make_store(request.param, tmp_path_factory, request)
    yield create_app(test_settings(api_keys_file=keys), active_policy=shipped, store=store), store
    store.engine.dispose()


def as_(who):
    return {"Authorization": f"Bearer key-{who}"}


def decide(client, who="agent-1", **changes):
    response = client.post("/v1/decisions", json=design_example(**changes), headers=as_(who))
    assert response.status_code == 201, response.json
    return response.json


def offer(decision, remedy, variant="full"):
    return next(o for o in decision["offers"] if o["remedy"] == remedy and o["variant"] == variant)


def grant(client, offer_id, who="agent-1", key=None):
    headers = {**as_(who), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/v1/offers/{offer_id}/grant", headers=headers)


def grants_stored(store):
    with store.transaction() as session:
        return session.scalar(select(func.count()).select_from(GrantRow))
