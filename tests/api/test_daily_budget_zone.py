"""Daily budgets start at midnight in the policy's `day_starts_in` zone (SQLite and PostgreSQL)."""

import hashlib
import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from service.app.active_policy import ActivePolicy
from service.app.grants import start_of_day
from service.config import shipped_policy
from service.store import clock
from service.store.models import GrantRow
from service.web.app_factory import create_app
from tests.conftest import design_example, make_store, test_settings

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 19:00 in Tokyo, whose day began 15:00 UTC
KEY = "key-tokyo-agent"


@pytest.mark.parametrize("moment, zone, start", [
    ("2026-11-23T10:00:00+00:00", "UTC", "2026-11-23T00:00:00+00:00"),
    ("2026-11-23T10:00:00+00:00", "Asia/Tokyo", "2026-11-22T15:00:00+00:00"),
    ("2026-11-23T23:30:00+00:00", "Europe/Berlin", "2026-11-23T23:00:00+00:00"),
    ("2026-11-23T03:00:00+00:00", "America/New_York", "2026-11-22T05:00:00+00:00"),
    # the day summer time begins: midnight was still winter time (UTC+1)
    ("2026-03-29T12:00:00+00:00", "Europe/Berlin", "2026-03-28T23:00:00+00:00"),
])
def test_start_of_day_is_the_last_local_midnight(moment, zone, start):
    assert start_of_day(datetime.fromisoformat(moment), zone) == datetime.fromisoformat(start)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tokyo(request, tmp_path_factory):
    policy = tmp_path_factory.mktemp("tokyo") / "policy"
    shutil.copytree(shipped_policy(), policy)
    roles = policy / "roles.yaml"
    roles.write_text(roles.read_text().replace("day_starts_in: UTC", "day_starts_in: Asia/Tokyo"))
    keys = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys.write_text("keys:\n  - {principal: tokyo-agent, role: agent, "
                    f"sha256: '{hashlib.sha256(KEY.encode()).hexdigest()}'}}\n")
    store = make_store(request.param, tmp_path_factory, request)
    app = create_app(test_settings(api_keys_file=keys), active_policy=ActivePolicy.load(policy),
                     store=store)
    yield app, store
    store.engine.dispose()


def grant_a_discount(client) -> int:
    """Decide an incident on a 400.00 EUR order and grant its 40.00 EUR discount."""
    body = design_example(customer_ask=None, order={"id": design_example()["order"]["id"],
                                                    "value": "400.00", "currency": "EUR"})
    headers = {"Authorization": f"Bearer {KEY}"}
    decision = client.post("/v1/decisions", json=body, headers=headers).json
    discount = next(o for o in decision["offers"] if o["remedy"] == "discount"
                    and o["variant"] == "full")
    assert discount["value"] == {"amount": "40.00", "currency": "EUR"}
    return client.post(f"/v1/offers/{discount['id']}/grant", headers=headers).status_code


def test_grants_count_toward_the_budget_from_local_midnight(tokyo, monkeypatch):
    app, store = tokyo
    client = app.test_client()
    monkeypatch.setattr(clock, "now", lambda: NOW)
    assert [grant_a_discount(client) for _ in range(12)] == [201] * 12  # 480.00 of 500.00

    def move_grants_to(moment):
        with store.transaction() as session:
            session.execute(update(GrantRow).where(GrantRow.principal == "tokyo-agent")
                            .values(granted_at=moment))

    # 14:00 UTC yesterday: before midnight in Tokyo, so another day there
    move_grants_to(datetime(2026, 11, 22, 14, 0, tzinfo=UTC))
    assert grant_a_discount(client) == 201
    # 23:00 UTC yesterday: yesterday in UTC, but today in Tokyo, so all 520.00 count
    move_grants_to(datetime(2026, 11, 22, 23, 0, tzinfo=UTC))
    assert grant_a_discount(client) == 403
