"""Policy versions in the store: files kept by version, the last activation names the active
one, refusals with who and why, and the open work a new version must not orphan."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from service.domain.records import OpenWork
from service.store import clock
from service.store.models import ApprovalRequestRow, DecisionRow, GrantRow, OfferRow
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork

FILES = {"policy.yaml": "name: x\r\nversion text é\n", "roles.yaml": "roles: {}\n"}


def test_nothing_is_active_in_a_new_database(fresh_store):
    assert active_version(fresh_store) is None
    with UnitOfWork(fresh_store) as uow:
        assert uow.policies.active() is None
        assert uow.policies.version("v1") is None
        assert uow.policies.open_work() == OpenWork()


def test_the_last_activation_is_the_active_version_and_files_come_back_as_stored(fresh_store):
    moment = clock.now()
    with UnitOfWork(fresh_store) as uow:
        uow.policies.activate("v1", "default", FILES, "alice", "cli", moment)
    with UnitOfWork(fresh_store) as uow:
        uow.policies.activate("v2", "default", {"policy.yaml": "two"}, "api-bob", "api:bob",
                              moment + timedelta(seconds=1))
    assert active_version(fresh_store) == "v2"
    with UnitOfWork(fresh_store) as uow:  # back to v1: its files are stored once
        uow.policies.activate("v1", "default", {"ignored": "the first files stay"}, "carol",
                              "SIGHUP", moment + timedelta(seconds=2))
    assert active_version(fresh_store) == "v1"
    with UnitOfWork(fresh_store) as uow:
        active = uow.policies.active()
        stored = uow.policies.version("v1")
    assert (active.version, active.activated_by, active.via) == ("v1", "carol", "SIGHUP")
    assert active.activated_at == moment + timedelta(seconds=2)
    assert stored.files == FILES  # byte for byte: CR LF and non-ASCII text too
    assert (stored.name, stored.activated_by, stored.activated_at) == ("default", "alice",
                                                                        moment)


def test_refusals_are_kept_with_who_why_and_when(fresh_store):
    with UnitOfWork(fresh_store) as uow:
        uow.policies.refuse("v9", ["roles.yaml:3: unknown field"], "alice", "cli", clock.now())
        uow.policies.refuse(None, ["policy: no such policy folder"], "bob", "start",
                            clock.now())
    with UnitOfWork(fresh_store) as uow:
        refusals = uow.policies.refusals()
    assert [(by, r.version, r.trigger, r.reasons) for by, r in refusals] == [
        ("bob", None, "start", ("policy: no such policy folder",)),
        ("alice", "v9", "cli", ("roles.yaml:3: unknown field",))]
    assert active_version(fresh_store) is None  # a refusal activates nothing


def _decision(session, number: int, moment) -> str:
    decision_id = f"d-{number}"
    session.execute(insert(DecisionRow.__table__).values(
        id=decision_id, incident_id=f"INC-{number}", request_hash="h", customer_id="C",
        order_id=f"O-{number}", currency="EUR", principal="p", role="agent",
        policy_name="default", policy_version="v1", outlook="likely", request={}, result={},
        decided_at=moment))
    return decision_id


def _offer(session, decision_id: str, number: int, remedy: str, currency: str, state: str,
           moment, variant: str = "full") -> str:
    offer_id = f"{decision_id}.{number}"
    session.execute(insert(OfferRow.__table__).values(
        id=offer_id, decision_id=decision_id, number=number, remedy=remedy, amount_minor=500,
        currency=currency, variant=variant, source="policy", approval="required",
        approver_role="team_lead", state=state, state_changed_at=moment))
    return offer_id


def _grant(session, offer_id: str, decision_id: str, remedy: str, currency: str,
           moment) -> None:
    session.execute(insert(GrantRow.__table__).values(
        id=f"g-{offer_id}", offer_id=offer_id, decision_id=decision_id, customer_id="C",
        order_id="O", remedy=remedy, amount_minor=500, currency=currency, principal="p",
        role="agent", granted_at=moment))


def test_open_work_counts_what_is_still_to_finish(fresh_store):
    moment = clock.now()
    with fresh_store.transaction() as session:
        first = _decision(session, 1, moment)
        pending = _offer(session, first, 1, "refund", "GBP", "approval_pending", moment)
        _offer(session, first, 2, "voucher", "GBP", "proposed", moment)
        granted = _offer(session, first, 3, "gift", "EUR", "granted", moment)
        second = _decision(session, 2, moment)  # nothing open on this one
        _offer(session, second, 1, "refund", "USD", "rejected", moment)
        closed = _offer(session, second, 2, "hamper", "USD", "granted", moment)
        for number, (offer_id, decision_id, remedy) in enumerate(
                [(granted, first, "gift"), (closed, second, "hamper")]):
            session.execute(insert(GrantRow.__table__).values(
                id=f"g-{number}", offer_id=offer_id, decision_id=decision_id, customer_id="C",
                order_id="O", remedy=remedy, amount_minor=500,
                currency="EUR" if remedy == "gift" else "USD", principal="p", role="agent",
                granted_at=moment))
        for number, (status, approver, requester) in enumerate([
                ("pending", "team_lead", "agent"), ("approved", "manager", "intern"),
                ("rejected", "manager", "intern")]):
            session.execute(insert(ApprovalRequestRow.__table__).values(
                id=f"r-{number}", offer_id=pending if status == "pending" else closed,
                status=status, approver_role=approver, reasons=[], requested_by="p",
                requested_role=requester, requested_at=moment))
    with UnitOfWork(fresh_store) as uow:
        work = uow.policies.open_work()
    assert work == OpenWork(
        pending_by_approver_role={"team_lead": 1}, pending_by_requester_role={"agent": 1},
        open_offers_by_currency={"GBP": 2}, open_offers_by_remedy={"refund": 1, "voucher": 1},
        grants_beside_open_offers_by_remedy={"gift": 1},
        grants_by_currency={"EUR": 1, "USD": 1})
    with UnitOfWork(fresh_store) as uow:  # where each is: asked only for work named
        assert [uow.policies.decisions_with(count, key) for count, key in [
            ("pending_by_approver_role", "team_lead"), ("pending_by_requester_role", "agent"),
            ("open_offers_by_currency", "GBP"), ("open_offers_by_remedy", "voucher"),
            ("grants_beside_open_offers_by_remedy", "gift"), ("grants_by_currency", "USD"),
            ("open_offers_by_currency", "EUR")]] == [
            (1, ("d-1",)), (1, ("d-1",)), (1, ("d-1",)), (1, ("d-1",)), (1, ("d-1",)),
            (1, ("d-2",)), (0, ())]


def test_offers_a_grant_excludes_whatever_the_policy_are_not_open_work(fresh_store):
    """One grant per remedy kind per decision, and an offer and its capped variant are
    alternatives (service.app.grants.check_combination): an offer such a grant excludes no
    version could ever grant, so it is no work left to finish, in any currency or kind, and
    a grant beside nothing else is beside no open offer. A capped variant is numbered right
    after its original."""
    moment = clock.now()
    with fresh_store.transaction() as session:
        # The reviewer's case: the capped gift card granted, the full one stays proposed.
        first = _decision(session, 1, moment)
        _offer(session, first, 1, "gift_card", "EUR", "proposed", moment)
        capped = _offer(session, first, 2, "gift_card", "EUR", "granted", moment, "capped")
        _grant(session, capped, first, "gift_card", "EUR", moment)
        _offer(session, first, 3, "refund", "EUR", "proposed", moment)  # still grantable
        _offer(session, first, 4, "store_credit", "EUR", "proposed", moment, "capped")
        _offer(session, first, 5, "discount", "EUR", "proposed", moment)
        # A customer's ask of refund and its capped variant, store credit: the variant
        # granted, the ask is excluded, though of another kind.
        second = _decision(session, 2, moment)
        _offer(session, second, 1, "refund", "GBP", "proposed", moment)
        variant = _offer(session, second, 2, "store_credit", "GBP", "granted", moment,
                         "capped")
        _grant(session, variant, second, "store_credit", "GBP", moment)
        _offer(session, second, 3, "voucher", "GBP", "approval_pending", moment)
        # The original granted: its capped variant is excluded, another kind is not.
        third = _decision(session, 3, moment)
        original = _offer(session, third, 1, "refund", "GBP", "granted", moment)
        _grant(session, original, third, "refund", "GBP", moment)
        _offer(session, third, 2, "store_credit", "GBP", "proposed", moment, "capped")
        _offer(session, third, 3, "gift_card", "GBP", "proposed", moment)
        # Nothing left that any version could grant.
        fourth = _decision(session, 4, moment)
        _offer(session, fourth, 1, "gift_card", "EUR", "approval_pending", moment)
        done = _offer(session, fourth, 2, "gift_card", "EUR", "granted", moment, "capped")
        _grant(session, done, fourth, "gift_card", "EUR", moment)
    with UnitOfWork(fresh_store) as uow:
        work = uow.policies.open_work()
        assert work.open_offers_by_currency == {"EUR": 3, "GBP": 2}
        assert work.open_offers_by_remedy == {"refund": 1, "store_credit": 1, "discount": 1,
                                              "voucher": 1, "gift_card": 1}
        assert work.grants_beside_open_offers_by_remedy == {"gift_card": 1, "store_credit": 1,
                                                            "refund": 1}
        assert work.grants_by_currency == {"EUR": 2, "GBP": 2}  # every grant, as before
        where = uow.policies.decisions_with
        assert where("open_offers_by_remedy", "gift_card") == (1, ("d-3",))
        assert where("open_offers_by_currency", "EUR") == (1, ("d-1",))
        assert where("grants_beside_open_offers_by_remedy", "gift_card") == (1, ("d-1",))
        assert where("grants_by_currency", "EUR") == (2, ("d-1", "d-4"))


def test_open_work_names_the_first_decisions_it_is_on(fresh_store):
    moment = clock.now()
    with fresh_store.transaction() as session:
        for number in (14, 11, 13, 10, 12):
            decision_id = _decision(session, number, moment)
            _offer(session, decision_id, 1, "voucher", "CHF", "proposed", moment)
            _offer(session, decision_id, 2, "hamper", "CHF", "proposed", moment)
        _offer(session, "d-12", 3, "voucher", "CHF", "approval_pending", moment)
    with UnitOfWork(fresh_store) as uow:
        assert uow.policies.open_work() == OpenWork(
            open_offers_by_remedy={"voucher": 6, "hamper": 5},
            open_offers_by_currency={"CHF": 11})
        where = uow.policies.decisions_with
        assert where("open_offers_by_remedy", "voucher") == (5, ("d-10", "d-11", "d-12"))
        assert where("open_offers_by_currency", "CHF") == (5, ("d-10", "d-11", "d-12"))
        assert where("open_offers_by_remedy", "gift_card") == (0, ())
