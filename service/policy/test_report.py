"""What a policy's own tests cover, and their results as text, JSON or JUnit XML.

Coverage is read off each test's decision trace: for every rule of the policy, the test cases
that fired it and what of its outcome they check (the outlooks, factors, steps, offers and
entitlements seen with it, counted only where the test lists that key in `expect`). Rules no
test fires come first, then rules fired only by tests that check nothing the rule decides.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path

from service.domain.vocabulary import OfferVariant, Outlook, StepName
from service.policy.model import Policy, PolicyTest, Rule
from service.policy.self_test import TestResult, format_result

UNTESTED = "untested"  # no test fires it
UNCHECKED = "unchecked"  # fired, but no test checks anything it decides
TESTED = "tested"

# The outcome kinds of a rule, in the order they are listed.
OUTCOMES = ("outlook", "factors", "steps", "offers", "entitlements")


@dataclass
class RuleCoverage:
    rule: Rule
    fired_by: list[PolicyTest] = field(default_factory=list)
    checked_by: list[PolicyTest] = field(default_factory=list)
    outcomes: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in OUTCOMES})

    @property
    def status(self) -> str:
        if not self.fired_by:
            return UNTESTED
        return TESTED if self.checked_by else UNCHECKED

    def see(self, kind: str, value: str) -> None:
        if value not in self.outcomes[kind]:
            self.outcomes[kind].append(value)


@dataclass(frozen=True)
class Coverage:
    rules: tuple[RuleCoverage, ...]  # untested first, then unchecked, then tested; each in
    # the policy's firing order

    def having(self, status: str) -> list[RuleCoverage]:
        return [r for r in self.rules if r.status == status]


def coverage(policy: Policy, results: list[TestResult]) -> Coverage:
    """Which test cases fire each rule of the policy, and which outcomes of it they check."""
    by_id = {rule.id: RuleCoverage(rule) for rule in policy.rules}
    for result in results:
        decision = result.decision
        if decision is None:
            continue
        expect = result.test.expect
        for terms in decision.trace:
            entry = by_id.get(terms.id)
            if entry is None:
                continue
            entry.fired_by.append(result.test)
            if _checks(entry.rule, expect, decision):
                entry.checked_by.append(result.test)
            _record_outcomes(entry, expect, decision)
    for entry in by_id.values():
        entry.outcomes["outlook"].sort(key=list(Outlook).index)
    order = {UNTESTED: 0, UNCHECKED: 1, TESTED: 2}
    return Coverage(tuple(sorted(by_id.values(), key=lambda r: order[r.status])))


def _checks(rule: Rule, expect: dict, decision) -> bool:
    """Whether a test that fired `rule` checks something the rule decides."""
    if rule.id in expect.get("rules", ()) or rule.id in expect.get("fired", ()):
        return True
    withdraws = {w.what for w in rule.withdrawals}
    decides = {
        "outlook": bool(rule.factors),
        "factors": bool(rule.factors),
        "steps": bool(rule.steps),
        "follow_up_days": any(s.step == StepName.FOLLOW_UP for s in rule.steps),
        "offers": bool(rule.remedies) or "remedy" in withdraws,
        "entitlements": bool(rule.entitlements) or "entitlement" in withdraws,
        "notes": any(note.startswith(f"{rule.id}:") for note in decision.notes),
    }
    return any(decides[key] for key in expect if key in decides)


def _record_outcomes(entry: RuleCoverage, expect: dict, decision) -> None:
    rule_id = entry.rule.id
    if "outlook" in expect:
        entry.see("outlook", str(decision.outlook))
    if "factors" in expect or "outlook" in expect:
        for factor in decision.factors:
            if factor.rule == rule_id:
                entry.see("factors", f"{factor.name}: {factor.effect}")
    if "steps" in expect:
        for step in entry.rule.steps:
            entry.see("steps", str(step.step))
    if "offers" in expect:
        for offer in decision.offers:
            if offer.rule == rule_id:
                entry.see("offers", offer.remedy if offer.variant == OfferVariant.FULL
                          else f"{offer.remedy} ({offer.variant})")
        for withdrawn in decision.withdrawn:
            if withdrawn.rule == rule_id and withdrawn.what == "remedy":
                entry.see("offers", f"no {withdrawn.name}")
    if "entitlements" in expect:
        for entitlement in decision.entitlements:
            if entitlement.rule == rule_id:
                entry.see("entitlements", entitlement.name)
        for withdrawn in decision.withdrawn:
            if withdrawn.rule == rule_id and withdrawn.what == "entitlement":
                entry.see("entitlements", f"no {withdrawn.name}")


# --- text -------------------------------------------------------------------------------


def _where(file: str, line: int) -> str:
    return f"{Path(file).name}:{line}"


def _lines_of(tests: list[PolicyTest], most: int = 10) -> str:
    """Where the tests are, the first `most` of them."""
    more = f", and {len(tests) - most} more" if len(tests) > most else ""
    files = {t.file for t in tests}
    if len(files) == 1:
        lines = ", ".join(str(t.line) for t in tests[:most])
        return f"{Path(next(iter(files))).name} line{'s' if len(tests) > 1 else ''} {lines}{more}"
    return ", ".join(_where(t.file, t.line) for t in tests[:most]) + more


def format_coverage(cover: Coverage) -> str:
    untested, unchecked, tested = (cover.having(s) for s in (UNTESTED, UNCHECKED, TESTED))
    lines = [f"coverage: {len(cover.rules)} rules; {len(untested)} fired by no test, "
             f"{len(unchecked)} fired but never checked, {len(tested)} tested"]
    if untested:
        lines.append(f"Rules no test fires ({len(untested)}):")
        lines.extend(f"  {r.rule.id}  {_where(r.rule.file, r.rule.line)}  {r.rule.description}"
                     for r in untested)
    if unchecked:
        lines.append(f"Rules fired, but no test checks what they decide ({len(unchecked)}):")
        lines.extend(f"  {r.rule.id}  {_where(r.rule.file, r.rule.line)}  fired by "
                     f"{_lines_of(r.fired_by)}" for r in unchecked)
    if tested:
        lines.append(f"Tested rules ({len(tested)}): the outcomes their tests check")
        for r in tested:
            count = len(r.fired_by)
            lines.append(f"  {r.rule.id}  {_where(r.rule.file, r.rule.line)}  fired by {count} "
                         f"test{'s' if count != 1 else ''} ({_lines_of(r.fired_by)})")
            lines.extend(f"      {kind}: {', '.join(values)}"
                         for kind, values in r.outcomes.items() if values)
    return "\n".join(lines)


def format_text(results: list[TestResult], verbose: bool = False,
                cover: Coverage | None = None) -> str:
    failed = [r for r in results if not r.passed]
    lines = [format_result(r) for r in results if verbose or not r.passed]
    if cover is not None:
        lines.append(format_coverage(cover))
    lines.append(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if not results:
        lines.append("no test cases: nothing was checked (add some to tests.yaml; "
                     "`amends policy test` fails until then)")
    return "\n".join(lines)


# --- JSON -------------------------------------------------------------------------------


def plain(value):
    """A mismatch's expected or actual value as JSON carries it (amounts as strings)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _test_json(test: PolicyTest) -> dict:
    return {"name": test.name, "file": test.file, "line": test.line}


def coverage_json(cover: Coverage) -> dict:
    return {
        "rules": len(cover.rules),
        "untested": [r.rule.id for r in cover.having(UNTESTED)],
        "unchecked": [r.rule.id for r in cover.having(UNCHECKED)],
        "by_rule": [{
            "id": r.rule.id,
            "file": r.rule.file,
            "line": r.rule.line,
            "description": r.rule.description,
            "status": r.status,
            "fired_by": [_test_json(t) for t in r.fired_by],
            "checked_by": [_test_json(t) for t in r.checked_by],
            "outcomes": r.outcomes,
        } for r in cover.rules],
    }


def report_json(policy: Policy, results: list[TestResult],
                cover: Coverage | None = None) -> dict:
    failed = sum(1 for r in results if not r.passed)
    document = {
        "policy": policy.name,
        "version": policy.version,
        "directory": policy.directory,
        "passed": len(results) - failed,
        "failed": failed,
        "tests": [{
            **_test_json(r.test),
            "role": r.test.role,
            "passed": r.passed,
            "mismatches": [{"what": m.what, "expected": plain(m.expected),
                            "actual": plain(m.actual)} for m in r.mismatches],
        } for r in results],
    }
    if cover is not None:
        document["coverage"] = coverage_json(cover)
    return document


def format_json(policy: Policy, results: list[TestResult], cover: Coverage | None = None) -> str:
    return json.dumps(report_json(policy, results, cover), indent=2)


# --- JUnit XML --------------------------------------------------------------------------


def format_junit(policy: Policy, results: list[TestResult],
                 cover: Coverage | None = None) -> str:
    """One <testsuite> per policy, one <testcase> per test case (with its file and line), a
    <failure> listing every mismatch; coverage, when asked, as properties and system-out."""
    failed = sum(1 for r in results if not r.passed)
    suites = ET.Element("testsuites", name="amends policy test", tests=str(len(results)),
                        failures=str(failed), errors="0")
    suite = ET.SubElement(suites, "testsuite", name=f"policy {policy.name}",
                          tests=str(len(results)), failures=str(failed), errors="0",
                          skipped="0", file=str(policy.directory))
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="version", value=policy.version)
    if cover is not None:
        for status in (UNTESTED, UNCHECKED):
            ET.SubElement(properties, "property", name=f"{status}_rules",
                          value=", ".join(r.rule.id for r in cover.having(status)))
    for result in results:
        test = result.test
        case = ET.SubElement(suite, "testcase", name=test.name, classname=f"policy.{policy.name}",
                             file=test.file, line=str(test.line), time="0")
        if not result.passed:
            failure = ET.SubElement(case, "failure", type="mismatch",
                                    message="; ".join(str(m) for m in result.mismatches))
            failure.text = format_result(result)
    if cover is not None:
        ET.SubElement(suite, "system-out").text = format_coverage(cover)
    return _xml(suites)


def junit_problems(directory: str, problems: list[str]) -> str:
    """A policy that does not load, as JUnit: one test case in error, naming every problem."""
    suites = ET.Element("testsuites", name="amends policy test", tests="1", failures="0",
                        errors="1")
    suite = ET.SubElement(suites, "testsuite", name=f"policy {directory}", tests="1",
                          failures="0", errors="1", skipped="0", file=directory)
    case = ET.SubElement(suite, "testcase", name="policy check", classname="policy",
                         file=directory, time="0")
    error = ET.SubElement(case, "error", type="PolicyInvalid",
                          message=f"{len(problems)} problem(s) in {directory}")
    error.text = "\n".join(problems)
    return _xml(suites)


# What XML 1.0 cannot carry at all, even escaped: control characters but tab, line feed and
# carriage return, and U+FFFE, U+FFFF (a test named with a BEL would make the file unreadable).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(root: ET.Element) -> str:
    """The document as text, with characters XML cannot carry shown as `\\xNN` escapes."""
    def safe(text: str | None) -> str | None:
        return None if text is None else _NOT_XML.sub(
            lambda found: f"\\x{ord(found.group()):02x}" if ord(found.group()) < 256
            else f"\\u{ord(found.group()):04x}", text)

    for element in root.iter():
        element.text, element.tail = safe(element.text), safe(element.tail)
        for name, value in element.attrib.items():
            element.attrib[name] = safe(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
