"""What changed between two policy versions, in sentences a policy owner reads: rules added,
removed and changed field by field, roles and their limits, settings. Pure: two loaded
policies in, a PolicyDiff out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from service.config import shipped_policy
from service.policy.diff import condition_text, diff
from service.policy.loader import load_policy
from tests.support.policy_files import copy_policy, renamed_role, rewrite, without_gbp

EXAMPLES = Path(shipped_policy()).parent / "examples"


@pytest.fixture(scope="module")
def shipped_policy_model():
    return load_policy(shipped_policy())


@pytest.fixture
def folder(tmp_path) -> Path:
    return copy_policy(tmp_path / "policy")


def changed(folder: Path, name: str, change) -> None:
    """One YAML file of the folder loaded, changed in place by `change(document)`, written."""
    path = folder / name
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def rule(document: dict, rule_id: str) -> dict:
    return next(r for r in document["rules"] if r["id"] == rule_id)


def lines_after(shipped_policy_model, folder: Path) -> list[str]:
    return diff(shipped_policy_model, load_policy(folder)).lines()


def test_a_version_against_itself_has_no_changes(shipped_policy_model):
    found = diff(shipped_policy_model, shipped_policy_model)
    assert found.empty and found.lines() == []
    assert (found.old_version, found.new_version) == (shipped_policy_model.version,) * 2


def test_numbers_written_another_way_are_no_change(shipped_policy_model, folder):
    """10 and 10.0 are one percent, 0.92 and 0.920 one rate, 150 and 150.00 one ceiling."""
    for name, old, new in [("remedies.yaml", "percent: 10\n", "percent: 10.0\n"),
                           ("policy.yaml", 'USD: "0.92"', 'USD: "0.920"'),
                           ("policy.yaml", "max_compensation_percent: 150",
                            "max_compensation_percent: 150.00")]:
        path = folder / name
        assert old in path.read_text(), (name, old)
        path.write_text(path.read_text().replace(old, new, 1))
    compared = diff(shipped_policy_model, load_policy(folder))
    assert compared.empty, (compared.rules, compared.roles, compared.settings)


def test_a_remedy_changed_field_by_field(shipped_policy_model, folder):
    def change(document):
        rule(document, "discount-minor")["then"]["remedies"][0]["percent"] = 15
        credit = rule(document, "valued-customer-credit")["then"]["remedies"][0]
        credit["cap"]["amount"]["EUR"] = "175.00"
        credit["reason"] = "Keep them."
        rule(document, "waive-shipping")["then"]["remedies"][0] = {
            "kind": "waived_shipping", "amount": {"EUR": "5", "USD": "5", "GBP": "4"}}

    changed(folder, "remedies.yaml", change)
    assert lines_after(shipped_policy_model, folder) == [
        "rule discount-minor: remedy discount percent 10 → 15",
        "rule waive-shipping: remedy waived_shipping value the shipping fee → amount EUR 5.00, "
        "GBP 4.00, USD 5.00",
        "rule valued-customer-credit: remedy store_credit cap in EUR 150.00 → 175.00",
        'rule valued-customer-credit: remedy store_credit reason none → "Keep them."',
    ]


def test_a_rule_changed_in_every_other_field(shipped_policy_model, folder):
    def change(document):
        repeat = rule(document, "repeat-failure")
        repeat["description"] = "Twice is once too often."
        repeat["priority"] = 105
        repeat["when"] = {"customer.prior_failures": {"at_least": 2}}
        repeat["then"]["factors"] = {"repeat_failure": "blocks", "patience_gone": "hurts"}
        repeat["then"]["steps"] = ["take_ownership", {"step": "follow_up", "after_days": 2}]
        first = rule(document, "first-failure")
        first["then"]["factors"] = {}

    changed(folder, "recovery.yaml", change)
    assert lines_after(shipped_policy_model, folder) == [
        "rule first-failure: factor first_failure removed (was helps)",
        'rule repeat-failure: description "After a repeat failure recovery rarely works." → '
        '"Twice is once too often."',
        "rule repeat-failure: priority 100 → 105",
        "rule repeat-failure: when customer.prior_failures at least 1 → "
        "customer.prior_failures at least 2",
        "rule repeat-failure: factor repeat_failure hurts → blocks",
        "rule repeat-failure: factor patience_gone added: hurts",
        "rule repeat-failure: steps take_ownership → take_ownership, follow_up after 2 days",
    ]


def test_rules_added_and_removed_say_what_they_were(shipped_policy_model, folder):
    def change(document):
        rule(document, "waive-shipping")["id"] = "waive-shipping-fee"

    changed(folder, "remedies.yaml", change)
    assert lines_after(shipped_policy_model, folder) == [
        "rule waive-shipping-fee added: A late or lost parcel; go one step further and waive "
        "the shipping fee.",
        "rule waive-shipping removed (was: A late or lost parcel; go one step further and "
        "waive the shipping fee.)",
    ]


def test_entitlements_and_withdrawals(tmp_path):
    folder = tmp_path / "eu261"
    shutil.copytree(EXAMPLES / "eu261", folder)
    old = load_policy(folder)
    name = "assistance.yaml"

    def change(document):
        extraordinary = rule(document, "extraordinary-circumstances")
        extraordinary["then"]["withdraw"][0]["reason"] = "Art. 5(3)"
        hotel = rule(document, "hotel")
        hotel["then"]["entitlements"][0]["description"] = "A hotel."
        hotel["then"]["entitlements"].append({"name": "taxi", "description": "A taxi."})

    changed(folder, name, change)
    lines = diff(old, load_policy(folder)).lines()
    assert lines == [
        'rule extraordinary-circumstances: withdrawal of remedy cash_compensation '
        '"extraordinary circumstances that could not have been avoided (Art. 5(3))" → '
        '"Art. 5(3)"',
        'rule hotel: entitlement hotel "Hotel accommodation and transport between the airport '
        'and the hotel (Art. 9(1)(b), (c))." → "A hotel."',
        'rule hotel: entitlement taxi added: "A taxi."',
    ]


def test_roles_and_their_limits(shipped_policy_model, folder):
    def change(document):
        agent = document["roles"]["agent"]
        agent["per_incident_limit"]["EUR"] = "60.00"
        del agent["per_order_cap"]
        agent["remedies"] = [*agent["remedies"], "refund"]
        agent["remedies"].remove("free_upgrade")
        document["roles"]["supervisor"]["policy_owner"] = True

    changed(folder, "roles.yaml", change)
    assert lines_after(shipped_policy_model, folder) == [
        "role agent: per-incident limit in EUR 50.00 → 60.00",
        "role agent: per-order cap removed (was EUR 100.00, GBP 90.00, USD 110.00)",
        "role agent: may grant refund no → yes",
        "role agent: may grant free_upgrade yes → no",
        "role supervisor: policy owner no → yes",
    ]


def test_roles_added_and_removed(shipped_policy_model, folder):
    rewrite(folder, renamed_role)
    lines = lines_after(shipped_policy_model, folder)
    assert "role shift_lead added: Team lead." in lines
    assert "role team_lead removed (was: Team lead.)" in lines
    assert ("escalation agent, team_lead, supervisor, manager → agent, shift_lead, "
            "supervisor, manager") in lines


def test_settings(shipped_policy_model, folder):
    def change(document):
        document["max_compensation_percent"] = 120
        document["history_window_days"] = 180
        document["exchange_rates"]["rates"]["EUR"]["USD"] = "0.93"
        document["context"]["days_since_delivery"]["required"] = True
        document["context"]["channel"] = {"type": "enum", "values": ["phone", "chat"]}
        document["remedy_kinds"] = {"voucher": {"scales": True, "combines": True}}
        document["failure_categories"].append("noise")
        document["holidays"] = ["2026-12-25"]

    def roles(document):
        document["rolling_window_days"] = 60
        document["grant_now"] = {"prefer": ["discount"], "ask_first": False}
        document["abuse_signal"]["grants_in_window"] = 5

    changed(folder, "policy.yaml", change)
    changed(folder, "roles.yaml", roles)
    assert lines_after(shipped_policy_model, folder) == [
        "exchange rate of USD in EUR 0.92 → 0.93",
        "goodwill ceiling 150% of the order value → 120% of the order value",
        "history window 365 days → 180 days",
        "rolling window 30 days → 60 days",
        "abuse signal from 4 grants to one customer in the window → from 5 grants to one "
        "customer in the window",
        "failure category noise added",
        "holiday 2026-12-25 added",
        "context fact days_since_delivery required no → yes",
        'context fact channel added: type enum, required no, values phone, chat',
        "remedy kind voucher added: scales yes, combines yes, statutory no",
        "grant_now prefers none → discount",
        "grant_now asks first yes → no",
    ]


def test_a_dropped_currency_names_every_amount(shipped_policy_model, folder):
    rewrite(folder, without_gbp)
    lines = lines_after(shipped_policy_model, folder)
    assert "currency GBP removed" in lines
    assert "exchange rate of GBP in EUR removed (was 1.17)" in lines
    assert "role agent: per-incident limit in GBP removed (was 45.00)" in lines
    assert ("rule small-gesture: remedy store_credit amount in GBP removed (was 5.00)"
            in lines)


def test_derived_facts_and_remedy_kinds_of_the_law(tmp_path):
    folder = tmp_path / "eu261"
    shutil.copytree(EXAMPLES / "eu261", folder)
    old = load_policy(folder)

    def change(document):
        document["derived"]["distance_band"]["band"]["ranges"][0]["at_most"] = 1600
        document["remedy_kinds"]["cash_compensation"]["combines"] = False

    changed(folder, "policy.yaml", change)
    lines = diff(old, load_policy(folder)).lines()
    assert lines == [
        "derived fact distance_band bands short up to and including 1500; medium up to and "
        "including 3500; long for the rest → short up to and including 1600; medium up to "
        "and including 3500; long for the rest",
        "remedy kind cash_compensation combines yes → no",
    ]


def test_conditions_read_as_the_rule_files_say_them(shipped_policy_model):
    rules = shipped_policy_model.rules_by_id
    assert condition_text(rules["recovery-sequence"].when, shipped_policy_model) == "always"
    assert condition_text(rules["valued-customer-credit"].when, shipped_policy_model) == (
        "failure.severity at least 3 and (customer.tier one of [gold, platinum] or "
        "customer.lifetime_value at least 2000)")
    assert condition_text(rules["replace-product"].when, shipped_policy_model).endswith(
        "and not (context.customer_rejects_product is true)")


def test_decimals_and_dates_are_shown_as_written(tmp_path):
    folder = copy_policy(tmp_path / "policy")

    def change(document):
        rule(document, "waive-shipping")["when"] = {
            "order.value": {"at_least": "12.5"},
            "failure.occurred_on": {"greater_than": "2025-01-22"}}

    changed(folder, "remedies.yaml", change)
    policy = load_policy(folder)
    assert condition_text(policy.rules_by_id["waive-shipping"].when, policy) == (
        "order.value at least 12.5 and failure.occurred_on greater than 2025-01-22")


def test_every_shipped_policy_differs_from_every_other_and_not_from_itself():
    policies = [load_policy(shipped_policy()), load_policy(EXAMPLES / "eu261"),
                load_policy(EXAMPLES / "us-denied-boarding")]
    for old in policies:
        for new in policies:
            found = diff(old, new)
            assert found.empty == (old is new), (old.name, new.name)
            assert len(found.lines()) == len(set(found.lines())), found.lines()


def test_a_new_order_among_rules_of_one_priority_is_a_change(shipped_policy_model, folder):
    """Rules of one priority fire in the order written, and the first one's wording or
    factor wins among them: swapping two is a change though neither rule changed."""
    def swap(document):
        rules = document["rules"]
        first = next(i for i, r in enumerate(rules) if r["id"] == "minor-failure")
        second = next(i for i, r in enumerate(rules) if r["id"] == "severe-failure")
        rules[first], rules[second] = rules[second], rules[first]

    changed(folder, "recovery.yaml", swap)
    assert lines_after(shipped_policy_model, folder) == [
        "firing order of the rules at priority 110: minor-failure, significant-failure, "
        "severe-failure, life-changing-failure → severe-failure, significant-failure, "
        "minor-failure, life-changing-failure"]
