"""`amends policy test --coverage | --format json | --format junit`: which rules the tests fire
and check, and the results in forms CI reads."""

import json
import re
import xml.etree.ElementTree as ET

from service.cli import main
from service.config import shipped_policy
from tests.policy.test_self_test import break_first_expectation
from tests.support.policy_files import edit

# Fired by no test of the shipped policy: no test has a severity-5 lost parcel.
UNTESTED_RULE = """  - id: lost-parcel-disaster
    description: A lost parcel that ruins the day gets a large credit.
    priority: 300
    when:
      failure.category: lost_parcel
      failure.severity: 5
    then:
      remedies:
        - kind: store_credit
          amount: {EUR: "40.00", USD: "40.00", GBP: "40.00"}
          reason: Nobody tests this yet.

"""

# Fired by the lost-parcel test, which checks the outlook and the offers, never entitlements.
UNCHECKED_RULE = """  - id: lost-parcel-tracking
    description: A lost parcel is traced for the customer.
    priority: 300
    when:
      failure.category: lost_parcel
    then:
      entitlements:
        - name: parcel_trace
          description: We trace the parcel with the carrier and report back.

"""


def rule_block(out: str, head: str) -> str:
    """What the coverage text says of one rule: its line after `head`, and the indented
    lines under it."""
    return re.split(r"\n  (?=\S)", out.split(head, 1)[1], maxsplit=1)[0]


def with_rules(policy_copy, *rules):
    edit(policy_copy, "remedies.yaml", "  - id: discount-minor\n",
         "".join(rules) + "  - id: discount-minor\n")


def test_coverage_names_an_untested_rule(policy_copy, capsys):
    with_rules(policy_copy, UNTESTED_RULE)
    assert main(["policy", "test", str(policy_copy), "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "1 fired by no test" in out
    untested = out.split("Rules no test fires (1):\n", 1)[1].splitlines()[0]
    assert untested.split()[:2] == ["lost-parcel-disaster", "remedies.yaml:22"]
    assert out.index("lost-parcel-disaster") < out.index("Tested rules")
    assert out.strip().endswith("27 passed, 0 failed")


def test_coverage_lists_each_rules_tests_and_checked_outcomes(capsys):
    assert main(["policy", "test", str(shipped_policy()), "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "0 fired by no test, 0 fired but never checked, 28 tested" in out
    block = rule_block(out, "  discount-minor  remedies.yaml:22  ")
    assert block.startswith("fired by 13 tests (tests.yaml lines 5, 25, 44, 60, 77,")
    assert "outlook: likely, uncertain, unlikely" in block
    assert "offers: discount" in block
    serial = rule_block(out, "  serial-failure  recovery.yaml:22  ")
    assert serial.startswith("fired by 1 test (tests.yaml line 271)")
    assert "factors: serial_failure: blocks" in serial


def test_coverage_tells_a_rule_fired_but_never_checked(policy_copy, capsys):
    with_rules(policy_copy, UNCHECKED_RULE)
    assert main(["policy", "test", str(policy_copy), "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "1 fired but never checked" in out
    section = out.split("Rules fired, but no test checks what they decide (1):\n", 1)[1]
    assert section.startswith("  lost-parcel-tracking  remedies.yaml:22  fired by "
                              "tests.yaml line 256")


def test_json_carries_failures_with_file_and_line_and_coverage(policy_copy, capsys):
    break_first_expectation(policy_copy)
    with_rules(policy_copy, UNTESTED_RULE)
    assert main(["policy", "test", str(policy_copy), "--format", "json", "--coverage"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert (document["policy"], document["passed"], document["failed"]) == ("default", 26, 1)
    assert len(document["tests"]) == 27
    failed = [t for t in document["tests"] if not t["passed"]]
    assert len(failed) == 1
    test = failed[0]
    assert test["file"] == str(policy_copy / "tests.yaml") and test["line"] == 5
    assert test["role"] == "agent"
    assert test["name"] == "first minor unavoidable late delivery is likely to recover"
    assert {"what": "outlook", "expected": "unlikely", "actual": "likely"} in test["mismatches"]
    assert {"what": "discount value", "expected": "13.00",
            "actual": "12.00"} in test["mismatches"]
    coverage = document["coverage"]
    assert coverage["untested"] == ["lost-parcel-disaster"]
    first = coverage["by_rule"][0]
    assert (first["id"], first["status"], first["fired_by"]) == (
        "lost-parcel-disaster", "untested", [])
    assert first["file"].endswith("remedies.yaml") and first["line"] == 22
    minor = next(r for r in coverage["by_rule"] if r["id"] == "discount-minor")
    assert minor["status"] == "tested" and len(minor["fired_by"]) == 13
    assert minor["outcomes"]["offers"] == ["discount"]


def test_json_without_coverage_has_none(capsys):
    assert main(["policy", "test", str(shipped_policy()), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "coverage" not in document and document["failed"] == 0
    assert all(t["passed"] and t["mismatches"] == [] for t in document["tests"])


def test_junit_carries_failures_with_file_and_line(policy_copy, capsys):
    break_first_expectation(policy_copy)
    assert main(["policy", "test", str(policy_copy), "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("27", "1", "0")
    cases = suite.findall("testcase")
    assert len(cases) == 27
    failing = [c for c in cases if c.find("failure") is not None]
    assert len(failing) == 1
    case = failing[0]
    assert case.get("name") == "first minor unavoidable late delivery is likely to recover"
    assert case.get("file") == str(policy_copy / "tests.yaml") and case.get("line") == "5"
    failure = case.find("failure")
    assert "outlook: expected unlikely, got likely" in failure.get("message")
    assert "discount value: expected 13.00, got 12.00" in failure.text


def test_junit_with_coverage_names_untested_rules(policy_copy, capsys):
    with_rules(policy_copy, UNTESTED_RULE)
    assert main(["policy", "test", str(policy_copy), "--format", "junit", "--coverage"]) == 0
    suite = ET.fromstring(capsys.readouterr().out).find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["untested_rules"] == "lost-parcel-disaster"
    assert "Rules no test fires (1)" in suite.find("system-out").text


def test_a_policy_that_does_not_load_is_reported_in_each_format(policy_copy, capsys):
    edit(policy_copy, "tests.yaml", "role: agent", "role: intern")
    assert main(["policy", "test", str(policy_copy), "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["valid"] is False
    assert any("unknown role `intern`" in p["message"] for p in document["problems"])
    assert main(["policy", "test", str(policy_copy), "--format", "junit"]) == 1
    error = ET.fromstring(capsys.readouterr().out).find("testsuite/testcase/error")
    assert "unknown role `intern`" in error.text


def test_junit_shows_characters_xml_cannot_carry_as_escapes(policy_copy, capsys):
    """A test named with a control character still gives a file every JUnit reader takes."""
    tests = policy_copy / "tests.yaml"
    tests.write_text(tests.read_text().replace(
        "name: first minor unavoidable late delivery is likely to recover",
        'name: "first minor \\a late delivery"', 1))
    main(["policy", "test", str(policy_copy), "--format", "junit"])
    root = ET.fromstring(capsys.readouterr().out)
    names = [case.get("name") for case in root.iter("testcase")]
    assert "first minor \\x07 late delivery" in names
