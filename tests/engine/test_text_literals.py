"""Text that is not ASCII reaches the engine written as its rules were: a rule about
"Zürich" fires for a fact saying "Zürich" (the engine compares the JSON text itself: a rule
written with \\u escapes and a fact written as raw UTF-8 would never match)."""

from pathlib import Path

import pytest

from service.app.active_policy import ActivePolicy, read_policy
from service.app.intake import parse_incident
from service.domain.fields import encoded, fact_values
from service.policy.conditions import fired_by_reference
from tests.support.random_policies import LawPolicy, to_yaml

RULES = [
    {"id": "geneve", "description": "Genève.",
     "when": {"context.region": {"one_of": ["Genève", "Zürich"]}, "failure.category": "late"},
     "then": {"factors": {"geneve": "hurts"}}},
    {"id": "zurich", "description": "Zürich.", "when": {"context.region": "Zürich"},
     "then": {"factors": {"zurich": "helps"}}},
    {"id": "not-zurich", "description": "Elsewhere.",
     "when": {"context.region": {"not_equals": "Zürich"}},
     "then": {"factors": {"elsewhere": "helps"}}},
    {"id": "schoen", "description": "Schön.",
     "when": {"failure.description": {"equals": "schön ☕ \u2028"}},
     "then": {"factors": {"schoen": "helps"}}},
]


@pytest.fixture(scope="module")
def active(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text") / "policy"
    LawPolicy({
        "policy.yaml": to_yaml({
            "name": "text", "currencies": ["EUR"], "failure_categories": ["late", "lost"],
            "context": {"region": {"type": "enum", "values": ["Zürich", "Genève"]}}}),
        "roles.yaml": to_yaml({"escalation": ["lead"], "roles": {"lead": {
            "per_incident_limit": {"EUR": "100.00"}, "remedies": ["discount"]}}}),
        "rules.yaml": to_yaml({"rules": RULES}), "tests.yaml": "tests: []\n"},
        ("EUR",), (), ("discount",), ("lead",)).write(Path(folder))
    proven = ActivePolicy.prove(read_policy(folder))
    yield proven
    proven.program.close()


@pytest.mark.parametrize(("category", "region", "description", "expected"), [
    ("late", "Zürich", "schön ☕ \u2028", ["geneve", "zurich", "schoen"]),
    ("late", "Genève", "schon", ["geneve", "not-zurich"]),
    ("lost", "Genève", "schön", ["not-zurich"]),
    ("lost", None, "schön ☕ \u2028", ["schoen"]),  # not_equals: never on a missing fact
])
def test_rules_about_text_that_is_not_ascii_fire_as_the_reference_says(
        active, category, region, description, expected):
    body = {"incident_id": "I-1", "customer": {"id": "C-1"},
            "order": {"id": "O-1", "value": "10.00", "currency": "EUR"},
            "failure": {"category": category, "severity": 1, "avoidable": True,
                        "description": description}}
    if region is not None:
        body["context"] = {"region": region}
    policy = active.policy
    incident = parse_incident(body, policy)
    fact = encoded(fact_values(incident, 0, policy.derived), policy.fields)
    assert fired_by_reference(policy.rules, fact) == expected
    assert active.program.fired(fact) == expected
