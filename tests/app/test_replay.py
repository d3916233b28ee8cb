"""What-if replay against a real store (SQLite and PostgreSQL): stored decisions run through a
candidate policy as they stood, nothing stored. Each test replays only the period in which it
recorded its own decisions."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.app.active_policy import ActivePolicy
from service.app.decisions import record_decision
from service.app.errors import Invalid
from service.app.grants import grant_together
from service.app.intake import parse_incident
from service.app.replay import Candidate, candidate_folder, candidate_version, replay
from service.domain.decision import Decision
from service.domain.incident import History
from service.domain.money import round_money
from service.domain.principal import Principal
from service.domain.records import StoredDecision
from service.domain.vocabulary import OfferVariant
from service.store import clock, keyset
from service.store.unit_of_work import UnitOfWork
from tests.conftest import design_example, examples
from tests.support.incidents import incident_bodies
from tests.support.policy_files import copy_policy, edit, renamed_role, rewrite, without_gbp

ROLES = ["agent", "team_lead", "supervisor", "manager"]
CHANGED_RULE = "discount-minor"


def discount_minor_at_15(folder: Path) -> Path:
    """The shipped policy with one rule changed: discount-minor offers 15%, not 10%."""
    copy_policy(folder)
    edit(folder, "remedies.yaml", "          percent: 10\n\n  - id: discount-minor-avoidable",
         "          percent: 15\n\n  - id: discount-minor-avoidable")
    return folder


@pytest.fixture(scope="module")
def changed_rule(tmp_path_factory) -> Candidate:
    candidate = candidate_folder(discount_minor_at_15(tmp_path_factory.mktemp("cand") / "p"))
    yield candidate
    candidate.close()


def record_some(data, store, shipped: ActivePolicy) -> list[tuple[StoredDecision, dict, str]]:
    """Random decisions of a few customers and orders of their own by every role, some of
    their grant_now sets granted (so later ones count earlier grants), the README's example
    among them; each with its request and role."""
    tag = uuid.uuid4().hex[:8]
    customers = [f"C-rp-{tag}-{n}" for n in range(data.draw(st.integers(1, 3), "customers"))]
    staff = {role: Principal(f"{role}-rp-{tag}", role) for role in ROLES}
    made = []
    count = data.draw(st.integers(1, 8), "decisions")
    for number in range(count):
        body = design_example() if number == 0 else data.draw(incident_bodies())
        body["incident_id"] = f"INC-rp-{tag}-{number}"
        body["customer"]["id"] = data.draw(st.sampled_from(customers))
        body["order"]["id"] = f"O-rp-{tag}-{data.draw(st.integers(0, 2))}"
        principal = staff[data.draw(st.sampled_from(ROLES))]
        stored = record_decision(store, shipped, principal, body,
                                 parse_incident(body, shipped.policy)).stored
        made.append((stored, body, principal.role))
        chosen = stored.decision.grant_now
        if chosen is not None and chosen.offers and data.draw(st.booleans(), "grant"):
            ids = stored.offer_ids
            with UnitOfWork(store) as uow:
                grant_together(uow, shipped.policy, principal, stored.id,
                               [ids[offer.number] for offer in chosen.offers])
    return made


def offered(decision: Decision) -> Decimal:
    return sum((round_money(o.value.amount, o.value.currency) for o in decision.offers
                if o.variant == OfferVariant.FULL), Decimal(0))


def free(decision: Decision) -> Decimal:
    total = decision.grant_now.total
    return round_money(total.amount, total.currency)


def offers_of(decision: Decision) -> Counter:
    return Counter((o.remedy, o.variant, round_money(o.value.amount, o.value.currency))
                   for o in decision.offers)


@settings(max_examples=examples(15))
@given(data=st.data())
def test_replaying_the_shipped_policy_against_itself_changes_nothing(data, store, shipped):
    since = clock.now()
    made = record_some(data, store, shipped)
    result = replay(store, shipped, since, sample=50)
    tally = result.tally
    assert result.complete and result.resume_after is keyset.ENDED
    assert tally.read == tally.compared == result.in_period == len(made)
    assert tally.changed == 0 and tally.sample == []
    assert (tally.not_decidable_count, tally.role_missing_count) == (0, 0)
    assert tally.offered_before == tally.offered_after
    assert tally.approval_free_before == tally.approval_free_after
    assert tally.fired_before == tally.fired_after
    assert tally.fired_before == Counter(rule.id for stored, _, _ in made
                                         for rule in stored.decision.trace)
    assert (tally.oldest, tally.newest) == (made[0][0].decided_at, made[-1][0].decided_at)


@settings(max_examples=examples(15))
@given(data=st.data())
def test_one_rule_changed_names_exactly_the_decisions_it_changes(data, store, shipped,
                                                                 changed_rule):
    since = clock.now()
    made = record_some(data, store, shipped)
    result = replay(store, changed_rule.active, since, sample=50)
    tally = result.tally
    # What the candidate answers, worked out here decision by decision.
    expected: set[str] = set()
    before: Counter = Counter()
    after: Counter = Counter()
    free_before: Counter = Counter()
    free_after: Counter = Counter()
    for stored, body, role in made:
        old = stored.decision
        new = changed_rule.active.decide(parse_incident(body, changed_rule.active.policy), role,
                                         History(old.prior_failures, old.granted))
        currency = body["order"]["currency"]
        before[currency] += offered(old)
        after[currency] += offered(new)
        free_before[currency] += free(old)
        free_after[currency] += free(new)
        if offers_of(old) != offers_of(new):
            assert CHANGED_RULE in {rule.id for rule in old.trace}
            expected.add(stored.id)
    assert made[0][0].id in expected  # the README's example: a 12.00 discount becomes 18.00
    assert tally.read == tally.compared == len(made)
    assert tally.offers_changed == len(expected) and tally.outlook_changed == 0
    assert {changed.stored.id for changed in tally.sample if changed.difference.offers} == (
        expected)
    for changed in tally.sample:
        assert CHANGED_RULE in {rule.id for rule in changed.stored.decision.trace}
        if changed.difference.offers:
            assert {o.remedy for o in changed.difference.added} == {"discount"}
    assert tally.offered_before == {c: v for c, v in before.items()}
    assert tally.offered_after == {c: v for c, v in after.items()}
    assert tally.approval_free_before == {c: v for c, v in free_before.items()}
    assert tally.approval_free_after == {c: v for c, v in free_after.items()}
    assert tally.fired_before == tally.fired_after  # the same rules fire, for other money


def test_the_example_discount_goes_from_12_to_18(store, shipped, changed_rule):
    since = clock.now()
    body = design_example(customer_ask=None)
    stored = record_decision(store, shipped, Principal(f"agent-{uuid.uuid4().hex[:8]}", "agent"),
                             body, parse_incident(body, shipped.policy)).stored
    result = replay(store, changed_rule.active, since)
    (changed,) = result.tally.sample
    assert changed.stored.id == stored.id and changed.stored.request == body
    assert [(o.remedy, o.value.amount) for o in changed.difference.removed] == [
        ("discount", Decimal("12.00"))]
    assert [(o.remedy, o.value.amount) for o in changed.difference.added] == [
        ("discount", Decimal("18.00"))]
    assert result.tally.offered_before == {"EUR": Decimal("24.50")}  # 5 + 12 + 7.50
    assert result.tally.offered_after == {"EUR": Decimal("30.50")}
    assert result.policy_version == changed_rule.active.policy.version
    assert changed_rule.failing_tests  # its own cases still expect 10%: replayed all the same


def test_a_limited_replay_resumes_where_it_stopped(store, shipped, changed_rule):
    since = clock.now()
    principal = Principal(f"agent-{uuid.uuid4().hex[:8]}", "agent")
    ids = []
    for _ in range(5):
        body = design_example()
        ids.append(record_decision(store, shipped, principal, body,
                                   parse_incident(body, shipped.policy)).stored.id)
    until = clock.now()
    seen, after, calls = [], keyset.START, 0
    while after is not keyset.ENDED:
        result = replay(store, changed_rule.active, since, until, limit=2, after=after,
                        batch_size=1)
        assert result.in_period == 5 and result.tally.read <= 2
        seen += [changed.stored.id for changed in result.tally.sample]
        after, calls = result.resume_after, calls + 1
    assert seen == ids[::-1] and calls == 3  # newest first, each once


def test_a_replay_past_its_deadline_says_it_is_not_complete(store, shipped):
    since = clock.now()
    body = design_example()
    record_decision(store, shipped, Principal("agent-late", "agent"), body,
                    parse_incident(body, shipped.policy))
    result = replay(store, shipped, since, deadline=time.monotonic())
    assert not result.complete and result.tally.read == 0
    assert result.resume_after is keyset.START


def test_requests_and_roles_the_candidate_lacks_are_counted_apart(store, shipped, tmp_path):
    since = clock.now()
    tag = uuid.uuid4().hex[:8]
    for currency, role in [("GBP", "agent"), ("GBP", "team_lead"), ("EUR", "team_lead"),
                           ("EUR", "agent")]:
        body = design_example(order__currency=currency)
        record_decision(store, shipped, Principal(f"{role}-{tag}", role), body,
                        parse_incident(body, shipped.policy))
    folder = copy_policy(tmp_path / "p")
    rewrite(folder, without_gbp)
    rewrite(folder, renamed_role)
    candidate = candidate_folder(folder)
    try:
        result = replay(store, candidate.active, since)
    finally:
        candidate.close()
    tally = result.tally
    assert (tally.read, tally.compared) == (4, 1)
    assert tally.role_missing == {"team_lead": 2}
    ((reason, count),) = tally.not_decidable.items()
    assert count == 1 and reason.startswith("order.currency:") and "EUR" in reason


def test_a_candidate_that_does_not_load_or_is_not_stored_is_invalid(store, tmp_path):
    folder = copy_policy(tmp_path / "p")
    edit(folder, "remedies.yaml", "failure.category: {none_of:", "failure.categry: {none_of:")
    with pytest.raises(Invalid) as refused:
        candidate_folder(folder)
    assert list(refused.value.errors) == ["candidate.folder"]
    assert any("categry" in message for message in refused.value.errors["candidate.folder"])
    with pytest.raises(Invalid) as unknown:
        candidate_version(store, "0123456789abcdef")
    assert list(unknown.value.errors) == ["candidate.version"]
    with pytest.raises(Invalid):
        candidate_folder(tmp_path / "nowhere")


def test_the_serving_version_is_replayed_without_loading_it_again(store, shipped):
    candidate = candidate_version(store, shipped.policy.version, serving=shipped)
    assert candidate.active is shipped and not candidate.owned
    candidate.close()  # leaves the serving program alone
    assert shipped.decide(parse_incident(design_example(), shipped.policy), "agent").offers
