"""Run a policy's own test cases and say, for each failure, what was expected and what came."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.decision import Decision, FiredRules, decide
from service.domain.incident import History, IncidentInvalid
from service.domain.offer import Offer
from service.domain.vocabulary import OfferSource, OfferVariant, StepName
from service.policy.model import IncidentReader, Policy, PolicyTest


@dataclass(frozen=True)
class Mismatch:
    what: str
    expected: object
    actual: object

    def __str__(self) -> str:
        return f"{self.what}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True)
class TestResult:
    test: PolicyTest
    mismatches: tuple[Mismatch, ...]
    # What the policy decided (None: the incident or the role was invalid, nothing decided):
    # coverage reads its trace, `policy test --update` its outcomes.
    decision: Decision | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatches


class PolicyTestsFailed(Exception):
    """A policy whose own tests fail is never activated."""

    def __init__(self, policy: Policy, failures: list[TestResult]):
        self.policy = policy
        self.failures = failures
        super().__init__(f"policy {policy.name} ({policy.directory}): "
                         f"{len(failures)} of its {len(policy.tests)} test cases fail")

    def report(self) -> str:
        return "\n".join([str(self), *(format_result(r) for r in self.failures)])


def format_result(result: TestResult) -> str:
    test = result.test
    head = f"{'ok  ' if result.passed else 'FAIL'} {test.file}:{test.line} {test.name} " \
           f"(role {test.role})"
    return "\n".join([head, *(f"       {m}" for m in result.mismatches)])


def run_policy_tests(policy: Policy, fired: FiredRules,
                     read_incident: IncidentReader) -> list[TestResult]:
    results = []
    for test in policy.tests:
        try:
            incident = read_incident(test.incident, policy)
        except IncidentInvalid as error:
            results.append(TestResult(test, (Mismatch("incident", "valid", str(error)),)))
            continue
        if test.role not in policy.roles:
            results.append(TestResult(test, (Mismatch("role", "a role of the policy",
                                                      test.role),)))
            continue
        decision = decide(incident, History(test.prior_failures), policy, test.role, fired)
        results.append(TestResult(test, tuple(compare(test.expect, decision)), decision))
    return results


def compare(expect: dict, decision: Decision) -> list[Mismatch]:
    found: list[Mismatch] = []

    def check(what, expected, actual):
        if expected != actual:
            found.append(Mismatch(what, expected, actual))

    if "outlook" in expect:
        check("outlook", expect["outlook"], str(decision.outlook))
    if "factors" in expect:
        check("factors", dict(expect["factors"]),
              {f.name: str(f.effect) for f in decision.factors})
    if "steps" in expect:
        check("steps", list(expect["steps"]), [str(s.step) for s in decision.steps])
    if "follow_up_days" in expect:
        follow_up = [s.after_days for s in decision.steps if s.step == StepName.FOLLOW_UP]
        check("follow_up_days", expect["follow_up_days"], follow_up[0] if follow_up else None)
    if "rules" in expect:
        check("rules", list(expect["rules"]), [r.id for r in decision.trace])
    fired = [r.id for r in decision.trace]
    missing = [rule for rule in expect.get("fired", ()) if rule not in fired]
    if missing:
        found.append(Mismatch("fired", f"{', '.join(missing)} among the rules fired",
                              ", ".join(fired) or "none"))
    if "entitlements" in expect:
        check("entitlements", sorted(expect["entitlements"]),
              sorted(e.name for e in decision.entitlements))
    for wanted in expect.get("notes", ()):
        if not any(wanted in note for note in decision.notes):
            found.append(Mismatch("notes", f"a note saying {wanted!r}",
                                  "; ".join(decision.notes) or "no notes"))
    if "offers" in expect:
        found.extend(compare_offers(expect["offers"], decision))
    return found


def _label(remedy, variant, source=None) -> str:
    label = remedy if variant == OfferVariant.FULL else f"{remedy} ({variant})"
    return f"{label} [asked]" if source == OfferSource.CUSTOMER_ASK else label


_LISTED = frozenset({"value", "percent", "approval", "approver_role", "source"})


def _differences(wanted: dict, offer: Offer) -> list[tuple[str, object]]:
    """The fields the expectation lists that the offer has otherwise, with the offer's."""
    observed = {"value": offer.value.amount, "percent": offer.percent,
                "approval": offer.approval, "approver_role": offer.approver_role,
                "source": offer.source}
    return [(key, observed[key]) for key in ("value", "percent", "approval", "approver_role",
                                             "source")
            if key in wanted and wanted[key] != observed[key]]


def compare_offers(expected: list[dict], decision: Decision) -> list[Mismatch]:
    actual = list(decision.offers)
    expected_labels = sorted(_label(e["remedy"], e["variant"], e.get("source"))
                             for e in expected)
    actual_labels = sorted(_label(o.remedy, o.variant, o.source if any(
        e.get("source") == OfferSource.CUSTOMER_ASK for e in expected) else None) for o in actual)
    found = []
    if expected_labels != actual_labels:
        found.append(Mismatch("offers", ", ".join(expected_labels) or "none",
                              ", ".join(actual_labels) or "none"))
    # Each expected offer is held to an offer of its own: first those that match one in every
    # field they list (the most specific first), then the rest, in order, to what is left.
    paired: dict[int, Offer] = {}
    claimed: set[int] = set()
    by_detail = sorted(range(len(expected)), key=lambda n: -len(_LISTED & set(expected[n])))
    for perfect in (True, False):
        for n in by_detail if perfect else range(len(expected)):
            if n in paired:
                continue
            wanted = expected[n]
            matches = [o for o in actual if o.number not in claimed
                       and o.remedy == wanted["remedy"] and o.variant == wanted["variant"]
                       and wanted.get("source", o.source) == o.source
                       and (not perfect or not _differences(wanted, o))]
            if matches:
                paired[n] = matches[0]
                claimed.add(matches[0].number)
    for n, wanted in enumerate(expected):
        offer = paired.get(n)
        if offer is None:
            continue
        label = _label(offer.remedy, offer.variant)
        for key, observed in _differences(wanted, offer):
            found.append(Mismatch(f"{label} {key}", wanted[key], observed))
    return found
