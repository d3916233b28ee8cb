import copy
import os

import pytest
from hypothesis import HealthCheck, settings

from service.app import create_app
from service.runtime import SHIPPED_POLICY, ActivePolicy

settings.register_profile(
    "amends", deadline=None, suppress_health_check=[HealthCheck.too_slow],
    database=None if os.environ.get("CI") else settings.default.database)
settings.load_profile("amends")

KEYS = {"agent": "dev-agent-key", "team_lead": "dev-team-lead-key",
        "supervisor": "dev-supervisor-key", "manager": "dev-manager-key"}

DESIGN_EXAMPLE = {
    "incident_id": "INC-1001",
    "customer": {"id": "C-42", "tier": "gold", "lifetime_value": "5400.00", "prior_failures": 0},
    "order": {"id": "O-9", "value": "120.00", "currency": "EUR", "shipping_fee": "7.50",
              "upgrade_cost": "30.00"},
    "failure": {"category": "late_delivery", "severity": 2, "avoidable": False,
                "description": "parcel two days late"},
    "customer_ask": {"remedy": "refund", "amount": "120.00"},
}


def design_example(**sections) -> dict:
    """The design.md incident, with whole sections or dotted fields replaced."""
    body = copy.deepcopy(DESIGN_EXAMPLE)
    for name, value in sections.items():
        if "__" in name:
            section, field = name.split("__")
            body[section][field] = value
        elif value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def auth(role: str = "agent") -> dict:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@pytest.fixture(scope="session")
def shipped() -> ActivePolicy:
    return ActivePolicy.load(SHIPPED_POLICY)


@pytest.fixture(scope="session")
def app(shipped):
    return create_app(active_policy=shipped)


@pytest.fixture
def client(app):
    return app.test_client()
