"""Activating a version: its files stored and marked active in one transaction; again is
no change; a version that would orphan stored work is refused, naming the work."""

from __future__ import annotations

from decimal import Decimal

from service.app.active_policy import ActivePolicy, PolicySource, read_policy
from service.app.intake import parse_incident
from service.app.policy_activation import Activation, Outcome, activate, orphaned_work
from service.config import shipped_policy
from service.domain.incident import History
from service.domain.records import OpenWork
from service.domain.running_totals import GrantedSoFar
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork
from tests.conftest import design_example
from tests.support.policy_files import copy_policy, retiring_gbp, rewrite, without_gbp


def test_activating_stores_the_files_once_and_again_is_no_change(fresh_store, shipped):
    source = PolicySource.read(shipped_policy())
    first = activate(fresh_store, source, shipped.policy, "alice", "cli")
    assert first == Activation(shipped.policy.version, Outcome.ACTIVATED)
    again = activate(fresh_store, source, shipped.policy, "bob", "api:bob")
    assert again.outcome == Outcome.UNCHANGED
    assert active_version(fresh_store) == shipped.policy.version
    with UnitOfWork(fresh_store) as uow:
        stored = uow.policies.version(shipped.policy.version)
        assert uow.policies.active().activated_by == "alice"
    assert PolicySource({n: t.encode() for n, t in stored.files.items()}, "x").version() == \
        shipped.policy.version


def test_work_a_version_would_orphan_is_named(shipped):
    policy = shipped.policy  # roles agent..manager; EUR, USD, GBP; the built-in kinds
    work = OpenWork(
        pending_by_approver_role={"team_lead": 3, "regional_lead": 1},
        pending_by_requester_role={"agent": 2, "intern": 2},
        open_offers_by_currency={"GBP": 41, "CHF": 1},
        open_offers_by_remedy={"refund": 5, "voucher": 2},
        grants_beside_open_offers_by_remedy={"discount": 1, "hamper": 1})
    assert orphaned_work(work, policy) == [
        "1 pending approval request is for role regional_lead, which this version removes",
        "2 pending approval requests were asked by role intern, which this version removes",
        "1 stored offer is in CHF, which this version drops",
        "2 stored offers are of remedy kind voucher, which this version removes",
        "1 grant of remedy kind hamper is on decisions with offers still open, which this "
        "version removes",
    ]
    assert orphaned_work(OpenWork(pending_by_approver_role={"team_lead": 3},
                                  open_offers_by_currency={"GBP": 41}), policy) == []


def test_each_reason_names_the_first_decisions_its_work_is_on(shipped):
    work = OpenWork(
        pending_by_approver_role={"regional_lead": 2},
        pending_by_requester_role={"intern": 1},
        open_offers_by_currency={"CHF": 44},
        open_offers_by_remedy={"voucher": 3},
        grants_beside_open_offers_by_remedy={"hamper": 2},
        grants_by_currency={"CHF": 5})
    where = {"pending_by_approver_role": {"regional_lead": (2, ("d-1", "d-2"))},
             "pending_by_requester_role": {"intern": (1, ("d-1",))},
             "open_offers_by_currency": {"CHF": (41, ("d-1", "d-2", "d-3"))},
             "open_offers_by_remedy": {"voucher": (3, ("d-4", "d-5", "d-6"))},
             "grants_beside_open_offers_by_remedy": {"hamper": (1, ("d-7",))},
             "grants_by_currency": {"CHF": (4, ("d-1", "d-2", "d-3"))}}
    asked = []

    def decisions_with(count: str, key: str) -> tuple[int, tuple[str, ...]]:
        asked.append((count, key))
        return where[count][key]

    assert orphaned_work(work, shipped.policy, decisions_with) == [
        "2 pending approval requests are for role regional_lead, which this version removes "
        "(decisions d-1 and d-2)",
        "1 pending approval request was asked by role intern, which this version removes "
        "(decision d-1)",
        "44 stored offers are in CHF, which this version drops (decisions d-1, d-2, d-3 and "
        "38 more)",
        "3 stored offers are of remedy kind voucher, which this version removes (decisions "
        "d-4, d-5 and d-6)",
        "2 grants of remedy kind hamper are on decisions with offers still open, which this "
        "version removes (decision d-7)",
        "5 grants are in CHF, which this version drops (decisions d-1, d-2, d-3 and 1 more), "
        "and running totals still count them (an order's cap for good): keep CHF, or give "
        "rates from CHF into EUR, USD, GBP in its exchange_rates"]
    assert len(asked) == 6  # only for the work named: EUR, discount... are never asked


def test_grants_in_a_dropped_currency_need_rates_from_it(shipped, tmp_path):
    """Running totals count every grant (an order's cap for good): a version dropping GBP
    must still say what GBP is worth in each of its currencies."""
    work = OpenWork(grants_by_currency={"GBP": 7, "EUR": 3})
    assert orphaned_work(work, shipped.policy) == []
    dropped = copy_policy(tmp_path / "dropped")
    rewrite(dropped, without_gbp)
    assert orphaned_work(work, read_policy(dropped)) == [
        "7 grants are in GBP, which this version drops, and running totals still count them "
        "(an order's cap for good): keep GBP, or give rates from GBP into EUR, USD in its "
        "exchange_rates"]
    retired = copy_policy(tmp_path / "retired")
    rewrite(retired, retiring_gbp)
    assert orphaned_work(work, read_policy(retired)) == []
    # ... with which a decision in EUR counts the agent's 420.00 GBP granted today (491.40
    # EUR at 1.17) against the 500.00 EUR daily budget: 8.60 EUR left.
    granted = GrantedSoFar(agent_today={"GBP": Decimal("420.00")})
    active = ActivePolicy.load(retired)
    try:
        assert granted.in_currency("EUR", active.policy.exchange_rates).agent_today == \
            Decimal("491.40")
        incident = parse_incident(design_example(customer_ask=None), active.policy)
        decision = active.decide(incident, "agent", History(0, granted))
    finally:
        active.program.close()
    assert decision.grant_now.total.amount <= Decimal("8.60")
