"""`amends policy check`: every problem at once, each with file, line, rule id and field."""

import textwrap
import time
from datetime import UTC, date, datetime

import pytest

from service.app.active_policy import read_policy
from service.cli import main
from service.config import shipped_policy
from service.policy.problems import PolicyInvalid
from service.policy.self_test import PolicyTestsFailed

BROKEN_RULES = textwrap.dedent("""\
    rules:
      - id: good-rule
        description: fine
        when:
          failure.severity: {at_least: 2}
        then:
          factors: {minor_failure: helps}
      - id: typo-field
        description: names a field that does not exist
        when:
          failure.severty: 3
        then:
          steps: [fix]
      - id: wrong-type
        description: compares severity with text
        when:
          failure.severity: {at_least: high}
        then:
          steps: [fix]
      - id: unknown-kind
        description: proposes a remedy kind nobody declared
        then:
          remedies:
            - kind: free_lunch
              percent: 10
      - id: good-rule
        description: duplicate id
        then:
          steps: [fix]
      - id: bad-category
        description: a category the policy does not declare
        when:
          failure.category: late_delivry
        then:
          steps: [fix]
      - id: extra-key
        description: an unknown field in the rule
        colour: red
        then:
          steps: [fix]
    """)


def problems_of(directory):
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(directory)
    return caught.value.problems


def test_shipped_policy_is_valid():
    policy = read_policy(shipped_policy())
    assert policy.name == "default"
    assert len(policy.tests) >= 25
    assert set(policy.escalation) == {"agent", "team_lead", "supervisor", "manager"}


def test_every_problem_is_reported_with_file_line_rule_and_field(policy_copy):
    (policy_copy / "broken.yaml").write_text(BROKEN_RULES)
    problems = problems_of(policy_copy)
    by_rule = {p.rule: p for p in problems if p.rule}
    file = str(policy_copy / "broken.yaml")

    assert by_rule["typo-field"].line == 11
    assert by_rule["typo-field"].field == "failure.severty"
    assert "unknown field" in by_rule["typo-field"].message
    assert by_rule["wrong-type"].line == 17
    assert "whole number" in by_rule["wrong-type"].message
    assert by_rule["unknown-kind"].field == "then.remedies.0.kind"
    assert "free_lunch" in by_rule["unknown-kind"].message
    assert by_rule["good-rule"].line == 26 and "duplicate" in by_rule["good-rule"].message
    assert "late_delivry" in by_rule["bad-category"].message
    assert by_rule["extra-key"].field == "colour"
    assert by_rule["extra-key"].line == 38
    assert all(p.file == file for p in problems)
    assert len(problems) == 6


def test_role_missing_a_currency_and_unknown_kinds(policy_copy):
    roles = (policy_copy / "roles.yaml").read_text()
    roles = roles.replace('per_incident_limit: {EUR: "200.00", USD: "220.00", GBP: "175.00"}',
                          'per_incident_limit: {EUR: "200.00", USD: "220.00"}')
    roles = roles.replace("escalation: [agent, team_lead, supervisor, manager]",
                          "escalation: [agent, team_lead, supervisor, manager, director]")
    (policy_copy / "roles.yaml").write_text(roles)
    messages = [str(p) for p in problems_of(policy_copy)]
    assert any("role `team_lead` has no per-incident limit in GBP" in m and "roles.yaml:25" in m
               for m in messages), messages
    assert any("`director`, which is not a role" in m for m in messages), messages


def test_yaml_syntax_error_names_the_line(policy_copy):
    (policy_copy / "recovery.yaml").write_text("rules:\n  - id: x\n    description: [unclosed\n")
    problems = problems_of(policy_copy)
    assert any(p.line in (3, 4) and "not valid YAML" in p.message for p in problems)


def test_amount_must_name_every_policy_currency(policy_copy):
    text = (policy_copy / "remedies.yaml").read_text()
    text = text.replace('amount: {EUR: "5.00", USD: "5.00", GBP: "5.00"}',
                        'amount: {EUR: "5.00", JPY: "500"}')
    (policy_copy / "remedies.yaml").write_text(text)
    messages = [str(p) for p in problems_of(policy_copy)]
    assert any("no amount for USD, GBP" in m and "small-gesture" in m for m in messages)
    assert any("JPY is not a currency of this policy" in m for m in messages)


def test_condition_too_complex_is_refused_with_advice(policy_copy):
    """Over 1,024 alternatives (9 x 19 x 7): more than the compiler splits for the engine."""
    values = [f"v{i}" for i in range(9)]
    rule = {"id": "too-wide", "description": "x", "then": {"steps": ["fix"]},
            "when": {"all": [{"any": [{"failure.description": {"one_of": values}},
                                      {"customer.id": {"one_of": values}}]},
                             {"any": [{"order.id": {"one_of": values}},
                                      {"customer.id": {"none_of": values}}]},
                             {"any": [{"customer.tier": "gold"}, {"customer.tier": "silver"},
                                      {"order.value": {"at_least": 100}},
                                      {"failure.severity": {"at_least": 3}},
                                      {"customer.prior_failures": {"at_least": 2}},
                                      {"failure.avoidable": True},
                                      {"customer_ask.remedy": "refund"}]}]}}
    import yaml
    (policy_copy / "wide.yaml").write_text(yaml.safe_dump({"rules": [rule]}))
    problems = problems_of(policy_copy)
    assert [p.rule for p in problems] == ["too-wide"]
    assert "split the rule" in problems[0].message


def test_check_cli_exit_codes_and_json(policy_copy, capsys):
    assert main(["policy", "check", str(shipped_policy())]) == 0
    assert "ok: policy default" in capsys.readouterr().out
    (policy_copy / "broken.yaml").write_text(BROKEN_RULES)
    assert main(["policy", "check", str(policy_copy), "--json"]) == 1
    import json
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False and len(report["problems"]) == 6
    assert {"file", "line", "rule", "field", "message"} <= set(report["problems"][0])


def test_missing_folder_and_files(tmp_path):
    problems = problems_of(tmp_path / "nope")
    assert "no such policy folder" in problems[0].message
    (tmp_path / "empty").mkdir()
    messages = [p.message for p in problems_of(tmp_path / "empty")]
    assert messages.count("required file is missing") == 2


def test_an_unknown_time_zone_is_reported_on_its_line(policy_copy):
    roles = (policy_copy / "roles.yaml").read_text()
    (policy_copy / "roles.yaml").write_text(roles.replace("day_starts_in: UTC",
                                                          "day_starts_in: Europe/Berlinn"))
    problems = problems_of(policy_copy)
    assert len(problems) == 1
    assert problems[0].field == "day_starts_in" and problems[0].line == 10
    assert "IANA" in problems[0].message


def test_remedy_kinds_new_ones_say_if_they_scale_built_in_ones_only_restate_combining(
        policy_copy):
    settings = (policy_copy / "policy.yaml").read_text()
    (policy_copy / "policy.yaml").write_text(settings + textwrap.dedent("""\
        remedy_kinds:
          meal_voucher: {combines: true}
          replacement: {scales: true}
          store_credit: {combines: true, description: Credit that adds to anything}
        """))
    problems = problems_of(policy_copy)
    by_field = {p.field: p for p in problems}
    assert set(by_field) == {"remedy_kinds.meal_voucher.scales", "remedy_kinds.replacement.scales"}
    assert "say whether `meal_voucher` scales" in by_field[
        "remedy_kinds.meal_voucher.scales"].message
    assert "never scales" in by_field["remedy_kinds.replacement.scales"].message

    (policy_copy / "policy.yaml").write_text(settings + textwrap.dedent("""\
        remedy_kinds:
          store_credit: {combines: true, description: Credit that adds to anything}
        """))
    credit = read_policy(policy_copy).remedy_kinds["store_credit"]
    assert (credit.scales, credit.combines, credit.description) == (
        True, True, "Credit that adds to anything")


def test_a_grant_now_preference_is_read_and_its_kinds_checked(policy_copy):
    roles = (policy_copy / "roles.yaml").read_text()
    preferring = roles.replace("roles:\n", "grant_now:\n  prefer: [discount, waived_shipping]\n"
                               "  ask_first: false\nroles:\n", 1)
    (policy_copy / "roles.yaml").write_text(preferring)
    policy = read_policy(policy_copy)
    assert (policy.grant_preference, policy.grant_ask_first) == (
        ("discount", "waived_shipping"), False)
    (policy_copy / "roles.yaml").write_text(preferring.replace("waived_shipping]",
                                                               "free_lunch]"))
    problems = problems_of(policy_copy)
    assert [(p.field, p.line) for p in problems] == [("grant_now.prefer", 16)]
    assert "unknown remedy kind `free_lunch`" in problems[0].message
    (policy_copy / "roles.yaml").write_text(preferring.replace("waived_shipping]",
                                                               "discount]"))
    assert [p.field for p in problems_of(policy_copy)] == ["grant_now.prefer"]


def test_the_shipped_policy_states_no_preference():
    policy = read_policy(shipped_policy())
    assert (policy.grant_preference, policy.grant_ask_first) == ((), True)


def edited(folder, name, old, new):
    path = folder / name
    text = path.read_text()
    assert old in text, (name, old)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("value", ["2024-02-30", "2024-13-01", "!!int abc",
                                   "!!timestamp foo"])
def test_a_value_yaml_cannot_make_is_a_problem_on_its_line(policy_copy, value):
    edited(policy_copy, "policy.yaml", "effective_from: 2024-01-01", f"effective_from: {value}")
    (problem,) = problems_of(policy_copy)
    assert problem.line == 7 and "cannot read this value" in problem.message


@pytest.mark.parametrize(("old", "new", "field"), [
    ('amount: {EUR: "5.00"', 'amount: {EUR: "1e30"', "then.remedies.0.amount.EUR"),
    ('amount: {EUR: "5.00"', 'amount: {EUR: "5.005"', "then.remedies.0.amount"),
])
def test_an_amount_no_service_could_pay_is_refused(policy_copy, old, new, field):
    edited(policy_copy, "remedies.yaml", old, new)
    (problem,) = [p for p in problems_of(policy_copy) if p.file.endswith("remedies.yaml")]
    assert problem.field.startswith(field), problem
    assert problem.line == 19


def test_a_limit_in_more_decimals_than_its_currency_has_is_refused(policy_copy):
    edited(policy_copy, "roles.yaml", 'per_incident_limit: {EUR: "50.00"',
           'per_incident_limit: {EUR: "50.0001"')
    (problem,) = problems_of(policy_copy)
    assert "EUR amounts have 2 decimal places at most" in problem.message


@pytest.mark.parametrize("zone", ["Europe", "America", "localtime", "Factory"])
def test_a_time_zone_is_an_iana_zone_not_a_folder_or_a_file_of_it(policy_copy, zone):
    edited(policy_copy, "roles.yaml", "day_starts_in: UTC", f"day_starts_in: {zone}")
    (problem,) = problems_of(policy_copy)
    assert problem.field == "day_starts_in" and "IANA" in problem.message


def test_files_named_like_policy_files_are_never_skipped_without_a_word(policy_copy):
    (policy_copy / "remedies.yaml").rename(policy_copy / "remedies.YAML")
    (policy_copy / "loop.yaml").symlink_to("loop.yaml")
    (policy_copy / "gone.yml").symlink_to(policy_copy / "nowhere.yml")
    (policy_copy / "folder.yaml").mkdir()
    (policy_copy / ".#remedies.YAML").symlink_to("user@host.1234")  # an editor's lock: ignored
    found = {problem.file.rsplit("/", 1)[-1]: problem.message
             for problem in problems_of(policy_copy) if problem.line == 0}
    assert "in lower case" in found["remedies.YAML"]
    assert all("not a file" in found[name] for name in ("loop.yaml", "gone.yml",
                                                         "folder.yaml"))
    assert ".#remedies.YAML" not in found


@pytest.mark.parametrize(("name", "line"), [("currencies: [EUR, USD, GBP]", 8)])
def test_a_list_of_names_names_each_once(policy_copy, name, line):
    edited(policy_copy, "policy.yaml", name, "currencies: [EUR, USD, GBP, EUR]")
    (problem,) = problems_of(policy_copy)
    assert problem.line == line and "EUR twice" in problem.message


def test_each_test_has_a_name_of_its_own(policy_copy):
    tests = (policy_copy / "tests.yaml").read_text()
    tests = tests.replace("name: first minor unavoidable late delivery is likely to recover",
                          "name: twice", 1)
    second = tests.index("  - name: ", tests.index("name: twice") + 1)
    tests = tests[:second] + "  - name: twice\n" + tests[tests.index("\n", second) + 1:]
    (policy_copy / "tests.yaml").write_text(tests)
    (problem,) = problems_of(policy_copy)
    assert problem.message.startswith("a test named `twice` comes before (line 5)")


def test_a_version_activated_before_loads_without_the_checks_added_since(policy_copy):
    """An amount in more decimals than its currency has, a currency named twice, a time zone
    that is a file of the zone folder: each refused for a new version, and each loads as it
    did from the database once activated by an earlier release."""
    from service.app.active_policy import PolicySource, load_source
    from service.domain.records import StoredPolicyVersion

    edited(policy_copy, "roles.yaml", 'per_incident_limit: {EUR: "50.00"',
           'per_incident_limit: {EUR: "50.005"')
    edited(policy_copy, "roles.yaml", "day_starts_in: UTC", "day_starts_in: localtime")
    edited(policy_copy, "policy.yaml", "currencies: [EUR, USD, GBP]",
           "currencies: [EUR, USD, GBP, EUR]")
    assert len(problems_of(policy_copy)) == 3
    source = PolicySource.read(policy_copy)
    with pytest.raises(PolicyInvalid):
        load_source(source)
    stored = StoredPolicyVersion(source.version(), "default", source.texts(), "earlier",
                                 datetime.now(UTC))
    active = load_source(PolicySource.stored(stored))
    try:
        assert active.policy.currencies == ("EUR", "USD", "GBP", "EUR")
    finally:
        active.program.close()


def _stored(folder):
    """The folder's files as a version an earlier release activated and stored."""
    from service.app.active_policy import PolicySource
    from service.domain.records import StoredPolicyVersion

    source = PolicySource.read(folder)
    return PolicySource.stored(StoredPolicyVersion(source.version(), "default", source.texts(),
                                                   "earlier", datetime.now(UTC)))


def test_a_version_activated_before_reads_its_dates_and_names_as_it_did(policy_copy):
    """Dates written as date.fromisoformat read them before YYYY-MM-DD was the only form
    (3e44920, 9f13452), a rule id ending in a line break, a test incident the service now
    refuses: each refused for a new version, and the version an earlier release activated
    with them still loads and decides as it did (it had kept Amends from starting)."""
    from service.app.active_policy import PolicySource, load_source
    from service.app.intake import parse_incident
    from tests.conftest import design_example

    edited(policy_copy, "policy.yaml", "effective_from: 2024-01-01",
           'effective_from: "20240101"')
    edited(policy_copy, "policy.yaml", "as_of: 2026-11-01", 'as_of: "2026-W44-7"')
    edited(policy_copy, "policy.yaml", "history_window_days: 365",
           'history_window_days: 365\nholidays: ["20261225"]')
    edited(policy_copy, "policy.yaml", "context:\n",
           "context:\n  signed_on: {type: date}\n")
    (policy_copy / "dates.yaml").write_text(textwrap.dedent("""\
        rules:
          - id: "signed-early\\n"
            description: Signed before 2024.
            priority: 10
            when: {context.signed_on: {less_than: "20240101"}}
            then: {factors: {signed_early: helps}}
        """))
    (policy_copy / "table.yaml").write_text(textwrap.dedent("""\
        table:
          id: signed-late
          description: Signed in 2025 (from its first week) or before.
          priority: 10
          inputs: [context.signed_on]
          outputs: [factor]
          rows:
            - [{at_least: "2025-W01-1"}, hurts]
            - [{at_most: "20241229"}, helps]
        """).replace("factor]", "{factor: signed_late}]"))
    tests = (policy_copy / "tests.yaml").read_text()
    (policy_copy / "tests.yaml").write_text(tests.replace(
        "failure: {category: late_delivery, severity: 2, avoidable: false}",
        'failure: {category: late_delivery, severity: 2, avoidable: false, '
        'occurred_on: "20260105"}', 1))
    # (each is refused for a new version: tests of fields, conditions, tables and the loader)
    with pytest.raises(PolicyInvalid):
        load_source(PolicySource.read(policy_copy))
    with pytest.raises(PolicyTestsFailed):  # its test incident no longer parses
        load_source(_stored(policy_copy)).program.close()
    active = load_source(_stored(policy_copy), already_active=True)
    try:
        policy = active.policy
        assert policy.effective_from == date(2024, 1, 1)
        assert policy.exchange_rates.as_of == date(2026, 11, 1)
        assert date(2026, 12, 25) in policy.holidays
        assert [t.test.name for t in active.failing_tests] == [
            "first minor unavoidable late delivery is likely to recover"]
        assert "occurred_on" in str(active.failing_tests[0].mismatches[0])

        def factors(signed_on):
            body = design_example(context={"signed_on": signed_on})
            decision = active.decide(parse_incident(body, policy), "agent")
            return {factor.name: str(factor.effect) for factor in decision.factors
                    if factor.name.startswith("signed_")}

        assert factors("2023-12-31") == {"signed_early": "helps", "signed_late": "helps"}
        assert factors("2024-01-01") == {"signed_late": "helps"}
        assert factors("2024-12-29") == {"signed_late": "helps"}
        assert factors("2024-12-30") == {"signed_late": "hurts"}  # 2025-W01-1
    finally:
        active.program.close()


def test_a_version_activated_before_may_divide_by_a_written_zero(policy_copy):
    from service.app.active_policy import PolicySource, load_source
    from service.domain.records import StoredPolicyVersion

    edited(policy_copy, "policy.yaml", "history_window_days: 365",
           "history_window_days: 365\nderived:\n  ratio: {type: decimal, compute: "
           "customer.prior_failures / 0}")
    (problem,) = problems_of(policy_copy)
    assert problem.message.endswith("dividing by zero gives no value: the expression would "
                                    "always be unknown")
    source = PolicySource.read(policy_copy)
    stored = StoredPolicyVersion(source.version(), "default", source.texts(), "earlier",
                                 datetime.now(UTC))
    load_source(PolicySource.stored(stored)).program.close()


def test_nested_aliases_are_walked_once_each(policy_copy, monkeypatch):
    """A small file of nested aliases stands for millions of values: checking for duplicate
    keys visits each node once, not each repetition."""
    from service.policy import loader

    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 7)]
    (policy_copy / "bomb.yaml").write_text("\n".join(levels) + "\nrules: []\n")
    visits = []
    walk = loader._Loader.report_duplicate_keys

    def counted(self, name, node, seen=None):
        visits.append(name)
        return walk(self, name, node, seen)

    monkeypatch.setattr(loader._Loader, "report_duplicate_keys", counted)
    problems_of(policy_copy)
    assert sum(name.endswith("bomb.yaml") for name in visits) < 200


def test_a_condition_of_nested_aliases_is_refused_as_too_large(policy_copy):
    """Each level an `any` of the level below, written out and then repeated by alias: 2 ** 25
    conditions from under 1 KB. Counted as it is read, it is refused at its rule's line after
    10,000, in well under a second (it had run for minutes)."""
    condition = "&a0 {failure.severity: 2}"
    for n in range(1, 26):
        condition = f"&a{n} {{any: [{condition}, *a{n - 1}]}}"
    (policy_copy / "bomb.yaml").write_text(
        "rules:\n  - id: bomb\n    description: nested aliases\n"
        f"    when: {condition}\n    then: {{steps: [acknowledge]}}\n")
    started = time.monotonic()
    problems = problems_of(policy_copy)
    assert time.monotonic() - started < 10
    assert [(p.line, p.message) for p in problems if p.file.endswith("bomb.yaml")] == [
        (4, "the condition is too large: more than 10,000 tests and groups "
            "written out (do YAML aliases repeat one another?)")]


def test_a_date_written_as_a_date_and_time_is_a_problem_in_a_new_version(policy_copy):
    """YAML reads `2025-02-17 23:30:00` as a moment: a date condition given one is refused
    at its line in a new version; a version activated before loads it as its day."""
    (policy_copy / "dated.yaml").write_text(
        "rules:\n  - id: dated\n    description: d\n    when:\n"
        "      failure.occurred_on: {at_least: 2025-02-17 23:30:00}\n"
        "    then: {steps: [acknowledge]}\n")
    problems = [p for p in problems_of(policy_copy) if p.file.endswith("dated.yaml")]
    assert [(p.line, p.field) for p in problems] == [(5, "failure.occurred_on")]
    assert "expects a date like 2024-06-30" in problems[0].message
    loaded = read_policy(policy_copy, strict=False)
    assert loaded.rules_by_id["dated"].when.value == date(2025, 2, 17).toordinal()


@pytest.mark.parametrize("moment", ["2024-01-01 00:00:00", "2024-01-01T00:00:00Z"])
def test_a_policy_date_written_as_a_moment_is_a_problem_in_a_new_version(policy_copy, moment):
    """effective_from, holidays, exchange rates' as_of and a band's bounds take a day: a YAML
    timestamp there had passed every check, then made each decision it was compared in a
    500. A version activated before loads it as its day."""
    edited(policy_copy, "policy.yaml", "effective_from: 2024-01-01", f"effective_from: {moment}")
    edited(policy_copy, "policy.yaml", "history_window_days: 365",
           f"history_window_days: 365\nholidays: [{moment.replace('2024', '2026')}]")
    edited(policy_copy, "policy.yaml", "as_of: 2026-11-01", f"as_of: {moment}")
    problems = [p for p in problems_of(policy_copy) if p.file.endswith("policy.yaml")]
    assert sorted(p.field for p in problems) == [
        "effective_from", "exchange_rates.as_of", "holidays.0"], problems
    assert all("use YYYY-MM-DD (a day, not a moment)" in p.message for p in problems)
    loaded = read_policy(policy_copy, strict=False)
    assert loaded.effective_from == date(2024, 1, 1)
    assert loaded.holidays == frozenset({date(2026, 1, 1)})
    assert loaded.exchange_rates.as_of == date(2024, 1, 1)


def test_a_text_literal_longer_than_the_engine_holds_is_a_problem_in_a_new_version(
        policy_copy):
    long = "x" * 2001
    (policy_copy / "long.yaml").write_text(
        "rules:\n  - id: long\n    description: d\n    when:\n"
        f"      customer.id: {long}\n    then: {{steps: [acknowledge]}}\n")
    problems = [p for p in problems_of(policy_copy) if p.file.endswith("long.yaml")]
    assert [p.line for p in problems] == [5]
    assert "at most 2000 characters, not 2001" in problems[0].message
    assert read_policy(policy_copy, strict=False).rules_by_id["long"].when.value == long
