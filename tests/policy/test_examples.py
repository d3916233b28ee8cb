"""The example policies under rules/examples (issue 11): each loads, its own test cases - at
least 20, worked out from the legal text - pass, and statutory amounts above the fare stand."""

from pathlib import Path

import pytest

from service.app.active_policy import ActivePolicy
from service.app.intake import parse_incident
from service.domain.incident import History
from service.policy.self_test import run_policy_tests

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "examples"


@pytest.mark.parametrize("name", ["eu261", "us-denied-boarding"])
def test_an_example_policy_loads_and_its_own_cases_pass(name):
    active = ActivePolicy.load(EXAMPLES / name)  # refuses a policy whose tests fail
    results = run_policy_tests(active.policy, active.program.fired, parse_incident)
    assert len(results) >= 20
    assert all(result.passed for result in results)


def test_eu261_pays_250_eur_on_a_39_eur_ticket():
    active = ActivePolicy.load(EXAMPLES / "eu261")
    body = {"incident_id": "X-1", "customer": {"id": "P-1"},
            "order": {"id": "B-1", "value": "39.00", "currency": "EUR"},
            "failure": {"category": "denied_boarding", "severity": 3, "avoidable": True},
            "context": {"distance_km": 950, "intra_eu": True, "departs_eu": True,
                        "arrives_eu": True, "eu_carrier": True, "volunteered": False}}
    decision = active.decide(parse_incident(body, active.policy), "claims_handler", History())
    assert [(o.remedy, str(o.value.amount)) for o in decision.offers] == [
        ("cash_compensation", "250.00")]
    assert not decision.notes  # no ceiling applied to what the law fixes


def test_us_denied_boarding_without_the_day_leaves_the_amount_out_with_a_note():
    active = ActivePolicy.load(EXAMPLES / "us-denied-boarding")
    body = {"incident_id": "X-2", "customer": {"id": "P-2"},
            "order": {"id": "T-2", "value": "150.00", "currency": "USD"},
            "failure": {"category": "denied_boarding", "severity": 2, "avoidable": True},
            "context": {"involuntary": True, "complied": True, "domestic": True,
                        "alternate_offered": False}}
    decision = active.decide(parse_incident(body, active.policy), "gate_agent", History())
    assert decision.offers == ()
    assert any("its value is unknown here" in note for note in decision.notes)
