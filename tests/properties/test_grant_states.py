"""Stateful property test of granting (issue 9): any sequence of decide / grant / ask for
approval / approve / reject / replay (the same Idempotency-Key again), by several principals
of every role, on orders in EUR, USD and GBP, keeps after every step:

- an offer is `granted` exactly when a grant row exists for it, and `approval_pending`
  exactly when it has a pending request (never more than one);
- a rejected offer is never granted and stays rejected;
- no request is pending for an offer that cannot be granted beside what its decision has
  granted (it is withdrawn by that grant, by its granter, and the offer is proposed again);
- no grant took any running total over the granter's cap: the per-incident limit, the
  person's daily budget, the order cap and the customer cap, with earlier grants in other
  currencies converted into the grant's currency at the policy's rates, rounded up;
- a grant made directly follows fewer grants to the customer than the abuse signal; a grant
  made by approving is by a role at least the request's approver role, and past the abuse
  signal by a role above the requester's (or the top role);
- a replayed call gives the first answer and changes nothing, and a grant is counted once.

Runs the use cases (no HTTP) on SQLite, and on PostgreSQL in the whole suite (marked slow:
about 10 s), with the shipped policy's daily budgets lowered so that they bite within a few
steps. Each example works under principals, customers and orders of its own.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from service.app.active_policy import ActivePolicy
from service.app.approvals import approve, reject, request_approval
from service.app.decisions import record_decision
from service.app.errors import Conflict, Forbidden, NeedsApproval
from service.app.grants import check_combination, grant_offer, start_of_day
from service.app.idempotency import run_once
from service.app.intake import parse_incident
from service.domain.principal import Principal
from service.domain.records import Answer, ApprovalRequest, Grant, StoredOffer
from service.domain.vocabulary import OfferState, RequestState
from service.store.unit_of_work import UnitOfWork
from tests.conftest import examples, make_store
from tests.support.policy_files import copy_policy, edit

ROLES = ("agent", "agent", "team_lead", "team_lead", "supervisor", "manager")
CURRENCIES = ("EUR", "USD", "GBP")
ORDER_VALUES = ("60.00", "120.00", "400.00")
CENT = Decimal("0.01")  # every currency of the shipped policy has two decimal places


@pytest.fixture(scope="module")
def tight(tmp_path_factory) -> ActivePolicy:
    """The shipped policy with an agent's daily budget of 120 EUR (130 USD, 105 GBP) and a
    team lead's of 300 EUR (330 USD, 260 GBP)."""
    folder = copy_policy(tmp_path_factory.mktemp("tight") / "policy")
    edit(folder, "roles.yaml",
         'per_agent_daily_budget: {EUR: "500.00", USD: "550.00", GBP: "450.00"}',
         'per_agent_daily_budget: {EUR: "120.00", USD: "130.00", GBP: "105.00"}')
    edit(folder, "roles.yaml",
         'per_agent_daily_budget: {EUR: "2000.00", USD: "2200.00", GBP: "1750.00"}',
         'per_agent_daily_budget: {EUR: "300.00", USD: "330.00", GBP: "260.00"}')
    active = ActivePolicy.load(folder)
    yield active
    active.program.close()


@dataclass
class Call:
    """A call made with an Idempotency-Key that succeeded, to be replayed."""

    principal: Principal
    key: str
    route: str
    body: dict
    operation: object
    answer: Answer


@dataclass
class Seen:
    """What the machine did, to compare the store with."""

    decisions: list[str] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)  # offers whose request was rejected
    counted: int = 0  # grants counted once committed (as the metrics count them)


def render(result) -> Answer:
    """A route's answer, reduced to what the test compares."""
    if isinstance(result, Grant):
        return Answer(201, {"grant": result.id})
    grant = getattr(result, "grant", None)
    if grant is not None:
        return Answer(201, {"grant": grant.id, "request": result.request.id})
    request = result if isinstance(result, ApprovalRequest) else result.request
    return Answer(200, {"request": request.id, "status": str(request.status)})


def converted(grants: list[Grant], into: str, rates) -> Decimal:
    """The test's own sum: per currency, converted at `rates` and rounded up to the cent."""
    sums: dict[str, Decimal] = {}
    for grant in grants:
        sums[grant.value.currency] = sums.get(grant.value.currency, Decimal(0)) + \
            grant.value.amount
    total = Decimal(0)
    for currency, amount in sums.items():
        rate = Decimal(1) if currency == into else rates.rates[into][currency]
        total += (amount * rate).quantize(CENT, rounding=ROUND_CEILING)
    return total


class Granting(RuleBasedStateMachine):
    store = None
    active: ActivePolicy = None

    def __init__(self):
        super().__init__()
        self.tag = uuid.uuid4().hex[:8]
        self.seen = Seen()
        self.policy = self.active.policy
        self.staff = [Principal(f"{role}-{n}-{self.tag}", role) for n, role in enumerate(ROLES)]
        self.offers: list[StoredOffer] = []
        self.states: dict[str, OfferState] = {}  # as of the last step
        self.requests: list[str] = []
        self.calls: list[Call] = []
        self.pending: dict[str, bool] = {}

    @initialize()
    def first_decision(self):
        self._decide(self.staff[0], 0, 0, "EUR", ask=True)

    def _pick_offer(self, data) -> StoredOffer:
        """Mostly an offer still open (proposed or pending), sometimes any: granted and
        rejected ones must stay as they are."""
        open_ = [o for o in self.offers if self.states.get(o.id, OfferState.PROPOSED)
                 in (OfferState.PROPOSED, OfferState.APPROVAL_PENDING)]
        pool = open_ if open_ and data.draw(st.integers(0, 3), label="open") else self.offers
        return data.draw(st.sampled_from(pool), label="offer")

    def _pick_request(self, data) -> str:
        pending = [r for r in self.requests if self.pending.get(r)]
        pool = pending if pending and data.draw(st.integers(0, 3), label="pending") \
            else self.requests
        return data.draw(st.sampled_from(pool), label="request")

    # ---- steps ----------------------------------------------------------------------------
    @rule(who=st.integers(0, len(ROLES) - 1), customer=st.integers(0, 1),
          order=st.integers(0, 3), value=st.sampled_from(ORDER_VALUES), ask=st.booleans())
    def decide(self, who, customer, order, value, ask):
        currency = CURRENCIES[order % len(CURRENCIES)]  # an order keeps its currency
        self._decide(self.staff[who], customer, order, currency, ask, value)

    def _decide(self, principal, customer, order, currency, ask, value="120.00"):
        body = {
            "incident_id": f"INC-{uuid.uuid4().hex[:12]}",
            "customer": {"id": f"C-{self.tag}-{customer}", "tier": "gold",
                         "lifetime_value": "5400.00", "prior_failures": 0},
            "order": {"id": f"O-{self.tag}-{order}", "value": value, "currency": currency,
                      "shipping_fee": "7.50", "upgrade_cost": "30.00"},
            "failure": {"category": "late_delivery", "severity": 2, "avoidable": False},
        }
        if ask:
            body["customer_ask"] = {"remedy": "refund", "amount": value}
        recorded = record_decision(self.store, self.active, principal, body,
                                   parse_incident(body, self.policy))
        self.seen.decisions.append(recorded.stored.id)
        self.offers += recorded.stored.offers

    @rule(who=st.integers(0, len(ROLES) - 1), keyed=st.booleans(), data=st.data())
    def grant(self, who, keyed, data):
        principal, offer = self.staff[who], self._pick_offer(data)
        self._call(principal, f"/v1/offers/{offer.id}/grant", {}, keyed,
                   lambda uow: grant_offer(uow, self.policy, principal, offer.id))

    @rule(who=st.sampled_from([0, 1]), keyed=st.booleans(), data=st.data())
    def grant_as_an_agent(self, who, keyed, data):
        """Agents grant most, and their budgets and caps are the smallest."""
        self.grant(who, keyed, data)

    @rule(who=st.integers(0, len(ROLES) - 1), keyed=st.booleans(), data=st.data())
    def ask_for_approval(self, who, keyed, data):
        principal, offer = self.staff[who], self._pick_offer(data)
        answer = self._call(principal, f"/v1/offers/{offer.id}/approval-request", {}, keyed,
                            lambda uow: request_approval(uow, self.policy, principal,
                                                         offer.id, None))
        if answer is not None and answer.document["request"] not in self.requests:
            self.requests.append(answer.document["request"])

    @precondition(lambda self: self.requests)
    @rule(who=st.integers(0, len(ROLES) - 1), keyed=st.booleans(), data=st.data())
    def approve(self, who, keyed, data):
        principal, request = self.staff[who], self._pick_request(data)
        self._call(principal, f"/v1/approvals/{request}/approve", {}, keyed,
                   lambda uow: approve(uow, self.policy, principal, request))

    @precondition(lambda self: self.requests)
    @rule(who=st.integers(0, len(ROLES) - 1), keyed=st.booleans(), data=st.data())
    def reject(self, who, keyed, data):
        principal, request = self.staff[who], self._pick_request(data)
        answer = self._call(principal, f"/v1/approvals/{request}/reject", {"reason": "no"},
                            keyed, lambda uow: reject(uow, self.policy, principal, request,
                                                      "no"))
        if answer is not None:
            with UnitOfWork(self.store) as uow:
                self.seen.rejected.add(uow.approvals.get(request).offer_id)

    @precondition(lambda self: self.calls)
    @rule(data=st.data())
    def replay(self, data):
        call = data.draw(st.sampled_from(self.calls), label="call")
        before = self._snapshot()
        again = run_once(self.store, call.principal, call.key, call.route, call.body,
                         call.operation, render, self._count)
        assert again == call.answer
        assert self._snapshot() == before

    def _call(self, principal, route, body, keyed, operation) -> Answer | None:
        """Run a use case as a route does, with an Idempotency-Key or without; None when it
        is refused (as it may be: the invariants say whether it should have been)."""
        key = uuid.uuid4().hex if keyed else None
        try:
            answer = run_once(self.store, principal, key, route, body, operation, render,
                              self._count)
        except (NeedsApproval, Conflict, Forbidden):
            return None
        if keyed:
            self.calls.append(Call(principal, key, route, body, operation, answer))
        return answer

    def _count(self, result) -> None:
        if isinstance(result, Grant) or isinstance(getattr(result, "grant", None), Grant):
            self.seen.counted += 1

    # ---- what the store holds -------------------------------------------------------------
    def _read(self):
        with UnitOfWork(self.store) as uow:
            offers = [o for group in uow.offers.of_decisions(self.seen.decisions).values()
                      for o in group]
            grants, requests = [], []
            for decision_id in self.seen.decisions:
                grants += uow.grants.of_decision(decision_id)
                requests += uow.approvals.of_decision(decision_id)
        return offers, grants, requests

    def _snapshot(self):
        offers, grants, requests = self._read()
        return ({o.id: (o.state, o.state_changed_at) for o in offers},
                {g.id for g in grants}, {r.id: r.status for r in requests})

    # ---- after every step -----------------------------------------------------------------
    @invariant()
    def the_store_agrees_with_itself_and_every_cap_held(self):
        offers, grants, requests = self._read()
        self.states = {o.id: o.state for o in offers}
        self.pending = {r.id: r.status == RequestState.PENDING for r in requests}
        granted = {g.offer_id: g for g in grants}
        assert len(granted) == len(grants), "an offer granted twice"
        pending = Counter(r.offer_id for r in requests if r.status == RequestState.PENDING)
        for offer in offers:
            assert (offer.state == OfferState.GRANTED) == (offer.id in granted), offer
            assert pending[offer.id] <= 1
            assert (offer.state == OfferState.APPROVAL_PENDING) == (pending[offer.id] == 1)
            if offer.id in self.seen.rejected:
                assert offer.state == OfferState.REJECTED and offer.id not in granted
        for request in requests:
            grant = granted.get(request.offer_id)
            if request.status == RequestState.APPROVED:
                assert grant.approval_request_id == request.id
                assert grant.principal == request.decided_by
            if request.status == RequestState.GRANTED:
                assert grant.approval_request_id is None
                assert grant.principal == request.decided_by
            if request.status == RequestState.WITHDRAWN:
                assert grant is None and request.decided_by in {g.principal for g in grants}
        self._no_request_pending_in_vain(offers, requests)
        assert self.seen.counted == len(grants), "a grant counted other than once"
        self._caps_held(sorted(grants, key=lambda g: g.granted_at), requests)

    def _no_request_pending_in_vain(self, offers, requests) -> None:
        by_id = {offer.id: offer for offer in offers}
        with UnitOfWork(self.store) as uow:
            for request in requests:
                if request.status == RequestState.PENDING:
                    check_combination(uow, self.policy, by_id[request.offer_id])  # no Conflict

    def _caps_held(self, grants: list[Grant], requests: list[ApprovalRequest]) -> None:
        policy, rates = self.policy, self.policy.exchange_rates
        by_id = {r.id: r for r in requests}
        for n, grant in enumerate(grants):
            earlier, currency = grants[:n], grant.value.currency
            role = policy.roles[grant.role]
            day = start_of_day(grant.granted_at, policy.day_starts_in)
            window = grant.granted_at - timedelta(days=policy.rolling_window_days)
            to_customer = [g for g in earlier if g.customer_id == grant.customer_id
                           and g.granted_at >= window]
            scopes = [
                ("per_incident_limit", [g for g in earlier if g.decision_id ==
                                        grant.decision_id]),
                ("per_agent_daily_budget", [g for g in earlier if g.principal ==
                                            grant.principal and g.granted_at >= day]),
                ("per_order_cap", [g for g in earlier if g.order_id == grant.order_id]),
                ("per_customer_cap", to_customer),
            ]
            for name, counted in scopes:
                cap = role.limit(currency) if name == "per_incident_limit" else \
                    role.cap(name, currency)
                if cap is not None:
                    total = converted(counted, currency, rates) + grant.value.amount
                    assert total <= cap, (name, grant, counted)
            if grant.approval_request_id is None:
                assert len(to_customer) < policy.abuse_grants_in_window
            else:
                request = by_id[grant.approval_request_id]
                chain = policy.escalation
                assert chain.index(grant.role) >= chain.index(request.approver_role)
                if len(to_customer) >= policy.abuse_grants_in_window:
                    assert (chain.index(grant.role) > chain.index(request.requested_role)
                            or grant.role == chain[-1]), (grant, request)


@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])  # about 3 s and 10 s
def granting_store(request, tmp_path_factory):
    created = make_store(request.param, tmp_path_factory, request)
    yield created
    created.engine.dispose()


def test_any_sequence_of_granting_keeps_states_and_caps(granting_store, tight):
    machine = type("GrantingOn", (Granting,), {"store": granting_store, "active": tight})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples(20), stateful_step_count=50, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
