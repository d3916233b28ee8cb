"""`amends policy test --update`: the failing expectations rewritten to what the policy now
decides, shown as a diff first, asked for (or --yes), comments and layout kept."""

import io
import json
import shutil

import pytest

from service.app.active_policy import read_policy
from service.cli import main
from service.config import shipped_policy
from service.policy import self_test
from service.policy.loader import policy_version
from service.policy.test_update import plan_updates
from service.policy.yaml_lines import load_yaml
from tests.support.policy_files import edit


class Terminal(io.StringIO):
    """A stdin that is a terminal, where someone types `answer`."""

    def isatty(self):
        return True


def raise_minor_discount(directory):
    """The change of issue 12: discount-minor from 10% to 15%."""
    edit(directory, "remedies.yaml", "        - kind: discount\n          percent: 10\n",
         "        - kind: discount\n          percent: 15\n")


def failing_tests(directory, capsys) -> dict[int, str]:
    assert main(["policy", "test", str(directory), "--format", "json"]) in (0, 1)
    return {t["line"]: t["name"]
            for t in json.loads(capsys.readouterr().out)["tests"] if not t["passed"]}


def changed_tests(before: str, after: str) -> set[str]:
    old, new = load_yaml(before)["tests"], load_yaml(after)["tests"]
    assert [t["name"] for t in old] == [t["name"] for t in new]
    return {o["name"] for o, n in zip(old, new, strict=True) if o != n}


def test_update_rewrites_exactly_the_broken_expectations(policy_copy, capsys):
    raise_minor_discount(policy_copy)
    failing = failing_tests(policy_copy, capsys)
    assert len(failing) == 10
    tests = policy_copy / "tests.yaml"
    before = tests.read_text()

    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    out = capsys.readouterr().out
    after = tests.read_text()
    assert changed_tests(before, after) == set(failing.values())
    # one line per test changes, and only its discount's value (and percent)
    old_lines, new_lines = before.splitlines(), after.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(o, n) for o, n in zip(old_lines, new_lines, strict=True) if o != n]
    assert len(changed) == 10
    assert all("{remedy: discount, " in o and "{remedy: discount, " in n for o, n in changed)
    assert ('-        - {remedy: discount, value: "12.00", percent: 10, approval: not_required}\n'
            '+        - {remedy: discount, value: "18.00", percent: 15, approval: not_required}'
            ) in out
    assert '+        - {remedy: discount, value: "13.50"}' in out
    # every comment is where it was
    assert [line for line in old_lines if line.lstrip().startswith("#")] == \
        [line for line in new_lines if line.lstrip().startswith("#")]
    assert "rewrote 10 test(s)" in out and out.strip().endswith("27 passed, 0 failed")
    assert main(["policy", "test", str(policy_copy)]) == 0
    assert capsys.readouterr().out.strip().endswith("27 passed, 0 failed")


def test_update_changes_the_version_only_by_tests_yaml(policy_copy, tmp_path, capsys):
    raise_minor_discount(policy_copy)
    others = {p.name: p.read_bytes() for p in policy_copy.iterdir() if p.name != "tests.yaml"}
    tests_before = (policy_copy / "tests.yaml").read_bytes()
    version_before = policy_version(policy_copy)

    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    assert {p.name: p.read_bytes() for p in policy_copy.iterdir()
            if p.name != "tests.yaml"} == others
    assert policy_version(policy_copy) != version_before
    put_back = shutil.copytree(policy_copy, tmp_path / "put-back")
    (put_back / "tests.yaml").write_bytes(tests_before)
    assert policy_version(put_back) == version_before


def test_update_without_yes_and_without_a_terminal_changes_nothing(policy_copy, capsys,
                                                                    monkeypatch):
    raise_minor_discount(policy_copy)
    before = (policy_copy / "tests.yaml").read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["policy", "test", str(policy_copy), "--update"]) == 2
    captured = capsys.readouterr()
    assert (policy_copy / "tests.yaml").read_text() == before
    assert "+++ " in captured.out  # the diff is shown all the same
    assert "not rewritten" in captured.err and "--yes" in captured.err
    assert "Rewrite" not in captured.out


@pytest.mark.parametrize(("answer", "code", "rewritten"), [
    ("y\n", 0, True), ("yes\n", 0, True), ("n\n", 1, False), ("\n", 1, False), ("", 1, False)])
def test_update_asks_on_a_terminal(policy_copy, capsys, monkeypatch, answer, code, rewritten):
    raise_minor_discount(policy_copy)
    before = (policy_copy / "tests.yaml").read_text()
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert main(["policy", "test", str(policy_copy), "--update"]) == code
    out = capsys.readouterr().out
    assert "Rewrite 10 test(s)? [y/N]" in out
    assert out.index("+++ ") < out.index("Rewrite 10 test(s)?")
    assert ((policy_copy / "tests.yaml").read_text() != before) == rewritten
    if not rewritten:
        assert "nothing rewritten" in out


def test_update_with_nothing_failing_changes_nothing(policy_copy, capsys):
    before = (policy_copy / "tests.yaml").read_text()
    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    assert "nothing to update" in capsys.readouterr().out
    assert (policy_copy / "tests.yaml").read_text() == before


def test_update_is_text_only_and_yes_needs_update(capsys):
    policy = str(shipped_policy())
    assert main(["policy", "test", policy, "--update", "--format", "json"]) == 2
    assert main(["policy", "test", policy, "--yes"]) == 2
    assert "--yes goes with --update" in capsys.readouterr().err


def test_update_rewrites_outlook_factors_steps_rules_and_offers(policy_copy, capsys):
    """Factors, outlook, follow-up and fired rules change; offers are dropped; wrapped flow
    lists stay wrapped at the same column."""
    edit(policy_copy, "remedies.yaml", "        - failure.avoidable: false\n",
         "        - failure.avoidable: false\n        - failure.severity: {at_least: 3}\n")
    edit(policy_copy, "recovery.yaml", "factors: {minor_failure: helps}",
         "factors: {minor_failure: hurts}")
    edit(policy_copy, "recovery.yaml", "after_days: 3", "after_days: 4")
    failing = failing_tests(policy_copy, capsys)
    before = (policy_copy / "tests.yaml").read_text()

    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    after = (policy_copy / "tests.yaml").read_text()
    assert changed_tests(before, after) == set(failing.values())
    assert ("      outlook: uncertain\n"
            "      factors: {first_failure: helps, minor_failure: hurts, not_avoidable: helps,\n"
            "                valued_customer: helps}\n"
            "      steps: [acknowledge, apologize, understand, fix, follow_up]\n"
            "      follow_up_days: 4\n"
            "      rules: [recovery-sequence, first-failure, minor-failure, not-avoidable, "
            "valued-customer,\n"
            "              follow-up, discount-minor, waive-shipping]\n"
            "      offers:\n"
            '        - {remedy: discount, value: "12.00", percent: 10, approval: not_required}\n'
            '        - {remedy: waived_shipping, value: "7.50", approval: not_required}\n'
            ) in after
    assert capsys.readouterr().out.strip().endswith("27 passed, 0 failed")


def test_update_adds_offers_with_the_fields_the_test_lists(policy_copy, capsys):
    edit(policy_copy, "tests.yaml",
         '        - {remedy: store_credit, value: "5.00", approval: not_required}\n', "")
    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    assert ('        - {remedy: discount, value: "12.00", percent: 10, approval: not_required}\n'
            '        - {remedy: waived_shipping, value: "7.50", approval: not_required}\n'
            '        - {remedy: store_credit, value: "5.00", approval: not_required}\n'
            ) in (policy_copy / "tests.yaml").read_text()
    assert capsys.readouterr().out.strip().endswith("27 passed, 0 failed")


def test_update_replaces_a_lost_note_by_the_closest_note(policy_copy, capsys):
    edit(policy_copy, "tests.yaml",
         '      customer_ask: {remedy: refund, amount: "500.00"}\n    expect:\n',
         '      customer_ask: {remedy: refund, amount: "500.00"}\n    expect:\n'
         '      notes: [capped at the ceiling of 170%, refund]\n')
    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    text = (policy_copy / "tests.yaml").read_text()
    assert '      notes: ["customer_ask: refund capped at the goodwill ceiling of 150%' in text
    assert capsys.readouterr().out.strip().endswith("27 passed, 0 failed")


BLOCK_STYLE = """\
# Block styles, comments and quoting survive a rewrite.
tests:
  - name: written in block style   # the name's comment
    role: agent
    incident:
      incident_id: T-01
      customer: {id: C-1, tier: gold, lifetime_value: "5400.00", prior_failures: 0}
      order: {id: O-1, value: "120.00", currency: EUR, shipping_fee: "7.50", upgrade_cost: "30.00"}
      failure: {category: late_delivery, severity: 2, avoidable: false}
    expect:
      outlook: 'unlikely'          # single-quoted, commented
      steps:
        - acknowledge
        - fix                      # a comment inside a list
      factors:
        first_failure: hurts       # hurts?
        serial_failure: blocks
      follow_up_days:
      fired: [first-failure, no-such-rule-fires]
      offers: []                   # none, it says
      entitlements: []

  # a comment between tests
  - name: passes and is left alone
    role: agent
    incident:
      incident_id: T-10
      customer: {id: C-6}
      order: {id: O-6, value: "60.00", currency: EUR}
      failure: {category: billing_error, severity: 1, avoidable: false}
    expect:
      outlook:   likely    # odd spacing
# the end
"""

BLOCK_STYLE_REWRITTEN = """\
# Block styles, comments and quoting survive a rewrite.
tests:
  - name: written in block style   # the name's comment
    role: agent
    incident:
      incident_id: T-01
      customer: {id: C-1, tier: gold, lifetime_value: "5400.00", prior_failures: 0}
      order: {id: O-1, value: "120.00", currency: EUR, shipping_fee: "7.50", upgrade_cost: "30.00"}
      failure: {category: late_delivery, severity: 2, avoidable: false}
    expect:
      outlook: 'likely'          # single-quoted, commented
      steps:
        - acknowledge
        - apologize
        - understand
        - fix                      # a comment inside a list
        - follow_up
      factors:
        first_failure: helps       # hurts?
        minor_failure: helps
        not_avoidable: helps
        valued_customer: helps
      follow_up_days: 3
      fired: [first-failure]
      offers:                    # none, it says
        - {remedy: store_credit, value: "5.00"}
        - {remedy: discount, value: "12.00"}
        - {remedy: waived_shipping, value: "7.50"}
      entitlements: []

  # a comment between tests
  - name: passes and is left alone
    role: agent
    incident:
      incident_id: T-10
      customer: {id: C-6}
      order: {id: O-6, value: "60.00", currency: EUR}
      failure: {category: billing_error, severity: 1, avoidable: false}
    expect:
      outlook:   likely    # odd spacing
# the end
"""


def test_update_keeps_block_styles_comments_and_quoting(policy_copy, capsys):
    (policy_copy / "tests.yaml").write_text(BLOCK_STYLE)
    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    assert (policy_copy / "tests.yaml").read_text() == BLOCK_STYLE_REWRITTEN
    assert capsys.readouterr().out.strip().endswith("2 passed, 0 failed")


def test_a_test_the_policy_decides_nothing_for_is_left_to_fix_by_hand(policy_copy):
    test = read_policy(policy_copy).tests[0]
    (plan,) = plan_updates([self_test.TestResult(
        test, (self_test.Mismatch("role", "a role", "intern"),))])
    assert plan.rewrites == () and plan.new_text == plan.old_text
    assert "fix it by hand" in plan.skipped[0][1]


def test_expectations_shared_through_an_anchor_are_left_alone(policy_copy, capsys):
    """Rewriting an anchored value would change every test that refers to it."""
    raise_minor_discount(policy_copy)
    edit(policy_copy, "tests.yaml",
         '        - {remedy: store_credit, value: "5.00", approval: not_required}\n'
         '        - {remedy: discount, value: "10.00", approval: not_required}\n',
         '        - &gesture {remedy: store_credit, value: "5.00", approval: not_required}\n'
         '        - {remedy: discount, value: "10.00", approval: not_required}\n')
    edit(policy_copy, "tests.yaml",
         '        - {remedy: store_credit, value: "5.00"}\n        - {remedy: discount, value: '
         '"10.00"}\n',
         '        - *gesture\n        - {remedy: discount, value: "10.00"}\n')
    before = (policy_copy / "tests.yaml").read_text()
    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 1
    out = capsys.readouterr().out
    assert out.count("not rewritten: ") == 2 and "(an anchor)" in out
    assert "rewrote 8 test(s)" in out and out.strip().endswith("25 passed, 2 failed")
    assert len(changed_tests(before, (policy_copy / "tests.yaml").read_text())) == 8


def test_update_keeps_windows_line_endings(policy_copy, capsys):
    raise_minor_discount(policy_copy)
    tests = policy_copy / "tests.yaml"
    tests.write_bytes(tests.read_bytes().replace(b"\n", b"\r\n"))
    assert main(["policy", "test", str(policy_copy), "--update", "--yes"]) == 0
    data = tests.read_bytes()
    assert b'value: "18.00", percent: 15' in data
    assert data.count(b"\n") == data.count(b"\r\n") > 400
    assert capsys.readouterr().out.strip().endswith("27 passed, 0 failed")
