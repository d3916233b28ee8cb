"""Activating a version: its files stored and marked active in one transaction; again is
no change; a version that would orphan stored work is refused, naming the work."""

from __future__ import annotations

from service.app.active_policy import PolicySource
from service.app.policy_activation import Activation, Outcome, activate, orphaned_work
from service.config import shipped_policy
from service.domain.records import OpenWork
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork


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
