"""grant_now through the API: right after a decision, the caller may grant exactly its
`grant_now`, and no more.

For every role of the shipped policy, a random incident and random earlier grants within the
running totals (each a subset of a `grant_now` of its moment: to the same customer and on the
same order by principals of every role, in every currency, and by the caller on incidents of
its own, which spend its daily budget):

- `POST /v1/decisions/{id}/grants` of exactly the decision's `grant_now` succeeds (201), and
  so does each earlier grant of a part of a `grant_now` (a part of a grantable set is
  grantable);
- its total, checked here from the grants stored (in other currencies converted at the
  policy's rates, each currency's sum rounded up to the cent), stays within the caller's
  per-incident limit and what is left of its daily budget, order cap and customer cap, and
  with the grants to the customer in the window within the abuse signal; no two of it are
  alternatives (kinds that do not combine), no two of one kind, no offer beside its capped
  variant;
- adding any other offer of the decision fails (403 or 409, wherever it is put in the set)
  and grants nothing, and the test's own rules say why; after granting, a fresh `grant_now`
  (GET) is empty.

Runs through the Flask test client on SQLite, and on PostgreSQL in the whole suite (slow).
Each example works under a principal, a customer and orders of its own (a pool of keys, one
principal per example), so what it checks does not depend on other examples; the checks read
the stored grants anyway.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from time import monotonic

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import or_, select

from service.store import clock
from service.store.models import GrantRow
from service.web.app_factory import create_app
from tests.conftest import examples, make_store, test_settings
from tests.support.incidents import incident_bodies, money

ROLES = ["agent", "team_lead", "supervisor", "manager"]
POOL = 300  # principals per role for callers, as many for earlier grants; then reused
CENT = Decimal("0.01")  # every currency of the shipped policy has two decimal places
ALL = (True,) * 6  # a mask granting the whole grant_now (at most one offer per kind: six)


def key_of(tag: str, role: str, number: int) -> str:
    return f"gn-key-{tag}-{role}-{number}"


@dataclass
class Api:
    client: object
    store: object
    policy: object
    tag: str
    callers: itertools.count

    def headers(self, role: str, number: int, other: bool = False) -> dict:
        """The key of an example's caller of the role, or of its other principal of it."""
        return {"Authorization":
                f"Bearer {key_of(self.tag, role, number % POOL + (POOL if other else 0))}"}

    def principal(self, role: str, number: int) -> str:
        return f"gn-{self.tag}-{role}-{number % POOL}"


@pytest.fixture(scope="module", params=[
    "sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def api(request, shipped, tmp_path_factory):
    """An app on its own store whose keys are a pool of principals per role: each example's
    caller, and another principal of each role for the earlier grants (daily budgets are
    per principal)."""
    tag = uuid.uuid4().hex[:8]
    keys = tmp_path_factory.mktemp("grant-now-keys") / "keys.yaml"
    keys.write_text("keys:\n" + "".join(
        f"  - {{principal: gn-{tag}-{role}-{n}, role: {role}, "
        f"sha256: '{hashlib.sha256(key_of(tag, role, n).encode()).hexdigest()}'}}\n"
        for role in ROLES for n in range(2 * POOL)))
    store = make_store(request.param, tmp_path_factory, request)
    app = create_app(test_settings(api_keys_file=keys), active_policy=shipped, store=store)
    # The service's clock runs from noon today (UTC, the policy's day_starts_in): a run
    # never crosses midnight, which would renew the daily budget between the decision and
    # the grants that must be refused.
    noon, started = datetime.now(UTC).replace(hour=12, minute=0, second=0), monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: noon + timedelta(seconds=monotonic() - started))
        yield Api(app.test_client(), store, shipped.policy, tag, itertools.count(1))
    store.engine.dispose()


# ---- strategies ---------------------------------------------------------------------------

masks = st.lists(st.booleans(), min_size=6, max_size=6).map(tuple)


@st.composite
def earlier_grants(draw):
    """An earlier incident, decided by someone and granted a part of its grant_now: on the
    same customer and order as the incident under test, the same customer only, or the same
    order only; by another principal of a role (a manager mostly), or by the caller."""
    return {"scope": draw(st.sampled_from(["customer_and_order", "customer", "order"])),
            "by": draw(st.sampled_from(["manager", "manager", "supervisor", "team_lead",
                                        "agent", "caller"])),
            "body": draw(incident_bodies()), "mask": draw(st.just(ALL) | masks)}


@st.composite
def big_incidents(draw):
    """A severe avoidable late delivery of a large order: its 60% discount is beyond every
    role but a manager, so grant_now is its capped variant, all the caller may still grant on
    an incident (an unavoidable one would come with a 5.00 store credit, chosen first)."""
    return {"incident_id": "P-1", "customer": {"id": "C-1"},
            "order": {"id": "O-1", "value": draw(money(100_000, 600_000)),
                      "currency": draw(st.sampled_from(["EUR", "USD", "GBP"]))},
            "failure": {"category": "late_delivery", "severity": 4, "avoidable": True}}


@st.composite
def spending(draw):
    """Grants by the caller on incidents of its own (other customers and orders): they spend
    its daily budget, which is ten per-incident limits in the shipped policy. Whole
    grant_nows of up to eleven big incidents (each about a per-incident limit, or what is left
    of the budget), and parts of a few random ones."""
    big = [{"body": draw(big_incidents()), "mask": ALL}
           for _ in range(draw(st.integers(0, 11)))]
    small = draw(st.lists(st.fixed_dictionaries({"body": incident_bodies(), "mask": masks}),
                          max_size=2))
    return draw(st.permutations(big + small))


# ---- the test's own arithmetic ------------------------------------------------------------

def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def converted(grants, into: str, rates) -> Decimal:
    """Each currency's sum converted into `into` at the policy's rates (one `from` is worth
    rates[into][from]), rounded up to the cent, then added."""
    sums: dict[str, Decimal] = {}
    for grant in grants:
        amount = Decimal(grant.amount_minor).scaleb(-2)
        sums[grant.currency] = sums.get(grant.currency, Decimal(0)) + amount
    return sum(((amount if currency == into else
                 (amount * rates.rates[into][currency]).quantize(CENT, rounding=ROUND_CEILING))
                for currency, amount in sums.items()), Decimal(0))


@dataclass(frozen=True)
class Totals:
    """What was granted before, in one currency, as read here from the stored grants."""

    incident: Decimal
    agent_today: Decimal
    order: Decimal
    customer_window: Decimal
    customer_grants_in_window: int


def totals_before(api: Api, principal: str, decision_id: str, customer: str, order: str,
                  currency: str, as_of: datetime) -> Totals:
    policy = api.policy
    assert policy.day_starts_in == "UTC"
    day = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    window = as_of - timedelta(days=policy.rolling_window_days)
    with api.store.engine.connect() as connection:
        rows = connection.execute(select(GrantRow.__table__).where(or_(
            GrantRow.decision_id == decision_id, GrantRow.principal == principal,
            GrantRow.order_id == order, GrantRow.customer_id == customer))).all()
    rows = [row for row in rows if aware(row.granted_at) <= as_of]
    to_customer = [r for r in rows if r.customer_id == customer
                   and aware(r.granted_at) >= window]
    rates = policy.exchange_rates
    return Totals(
        incident=converted([r for r in rows if r.decision_id == decision_id], currency, rates),
        agent_today=converted([r for r in rows if r.principal == principal
                               and aware(r.granted_at) >= day], currency, rates),
        order=converted([r for r in rows if r.order_id == order], currency, rates),
        customer_window=converted(to_customer, currency, rates),
        customer_grants_in_window=len(to_customer))


def rules_broken(offers: list[dict], role: str, policy, totals: Totals,
                 currency: str, order_value: str) -> list[str]:
    """Every rule granting these offers together now breaks, from the policy's terms."""
    terms = policy.roles[role]
    broken = []
    kinds = policy.remedy_kinds
    goodwill = [Decimal(o["value"]["amount"]) for o in offers
                if not (kinds[o["remedy"]].statutory or kinds[o["remedy"]].ceiling_percent)]
    ceiling = (Decimal(order_value) * policy.max_compensation_percent / 100).quantize(
        Decimal("0.01"), rounding=ROUND_DOWN)  # the currencies drawn have two places
    if sum(goodwill) > ceiling:
        broken.append("above the goodwill ceiling")
    kinds = [o["remedy"] for o in offers]
    total = sum((Decimal(o["value"]["amount"]) for o in offers), Decimal(0))
    if any(o["value"]["currency"] != currency for o in offers):
        broken.append("an offer in another currency")
    if any(kind not in terms.remedies for kind in kinds):
        broken.append("a kind the role may not grant")
    if len(set(kinds)) < len(kinds):
        broken.append("two of one kind")
    if sum(not policy.remedy_kinds[kind].combines for kind in kinds) > 1:
        broken.append("two alternatives")
    ids = {o["id"] for o in offers}
    if any(o["capped_from"] in ids for o in offers):
        broken.append("an offer beside its capped variant")
    if not offers:
        return broken
    if totals.incident + total > terms.limit(currency):
        broken.append("per-incident limit")
    for name, already in [("per_agent_daily_budget", totals.agent_today),
                          ("per_order_cap", totals.order),
                          ("per_customer_cap", totals.customer_window)]:
        cap = terms.cap(name, currency)
        if cap is not None and already + total > cap:
            broken.append(name)
    threshold = policy.abuse_grants_in_window
    if threshold is not None and totals.customer_grants_in_window + len(offers) > threshold:
        broken.append("abuse signal")
    return broken


# ---- calls --------------------------------------------------------------------------------

def decide(api: Api, headers: dict, body: dict) -> dict:
    response = api.client.post("/v1/decisions", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def grant_set(api: Api, headers: dict, decision_id: str, offer_ids: list[str]):
    return api.client.post(f"/v1/decisions/{decision_id}/grants", json={"offers": offer_ids},
                           headers=headers)


def grants_of(api: Api, decision_id: str) -> list:
    with api.store.engine.connect() as connection:
        return connection.execute(select(GrantRow.__table__).where(
            GrantRow.decision_id == decision_id)).all()


def decide_and_grant_part(api: Api, headers: dict, body: dict, mask: tuple) -> None:
    """Decide an earlier incident and grant the part of its grant_now the mask picks: it
    must be granted (a part of a grantable set is grantable)."""
    decision = decide(api, headers, body)
    part = [offer_id for offer_id, keep in zip(decision["grant_now"]["offers"], mask,
                                               strict=False) if keep]
    if part:
        response = grant_set(api, headers, decision["decision_id"], part)
        assert response.status_code == 201, (body, decision["grant_now"], part, response.json)


def with_ids(body: dict, customer: str, order: str) -> dict:
    return {**body, "incident_id": f"INC-{uuid.uuid4().hex}",
            "customer": {**body["customer"], "id": customer},
            "order": {**body["order"], "id": order}}


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# ---- the property -------------------------------------------------------------------------

@settings(max_examples=examples(200), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(role=st.sampled_from(ROLES), body=incident_bodies(),
       earlier=st.lists(earlier_grants(), max_size=6), spent=spending(), data=st.data())
def test_grant_now_is_granted_right_after_the_decision_and_nothing_more_fits(
        api, role, body, earlier, spent, data):
    policy = api.policy
    number = next(api.callers)
    caller, principal = api.headers(role, number), api.principal(role, number)
    customer, order = fresh("C"), fresh("O")

    # Earlier grants within the running totals.
    for spend in spent:
        decide_and_grant_part(api, caller, with_ids(spend["body"], fresh("C"), fresh("O")),
                              spend["mask"])
    for before in earlier:
        who = caller if before["by"] == "caller" else api.headers(before["by"], number,
                                                                   other=True)
        scope = before["scope"]
        decide_and_grant_part(api, who, with_ids(
            before["body"], customer if scope != "order" else fresh("C"),
            order if scope != "customer" else fresh("O")), before["mask"])

    # The decision, and its grant_now checked against the stored grants.
    decision = decide(api, caller, with_ids(body, customer, order))
    decision_id, now = decision["decision_id"], decision["grant_now"]
    currency = body["order"]["currency"]
    offers = {o["id"]: o for o in decision["offers"]}
    chosen = [offers[offer_id] for offer_id in now["offers"]]
    assert now["role"] == role
    assert [o["id"] for o in chosen] == [o["id"] for o in decision["offers"]
                                         if o["id"] in now["offers"]]  # decision order
    assert now["total"]["currency"] == currency
    assert Decimal(now["total"]["amount"]) == sum(
        (Decimal(o["value"]["amount"]) for o in chosen), Decimal(0))
    assert all(o["approval"] == "not_required" for o in chosen), chosen
    totals = totals_before(api, principal, decision_id, customer, order, currency,
                           moment(now["as_of"]))
    assert rules_broken(chosen, role, policy, totals, currency,
                        body["order"]["value"]) == [], (totals, chosen)
    event(f"grant_now of {role}: {len(chosen)} of {len(offers)} offers")
    budget = policy.roles[role].cap("per_agent_daily_budget", currency)
    if budget is not None:
        event(f"daily budget spent before: {int(10 * totals.agent_today / budget)}/10")

    # Maximal: with any other offer the set is refused whole, and the test sees why.
    for extra in [o for o in decision["offers"] if o["id"] not in now["offers"]]:
        asked = list(now["offers"])
        asked.insert(data.draw(st.integers(0, len(asked)), label="position"), extra["id"])
        response = grant_set(api, caller, decision_id, asked)
        assert response.status_code in (403, 409), (extra, response.json)
        if response.status_code == 403:  # beyond the caller's limits: named with reasons
            assert response.json["offers"], response.json
            assert all(refused["reasons"] for refused in response.json["offers"])
        assert grants_of(api, decision_id) == []
        broken = rules_broken([*chosen, extra], role, policy, totals, currency,
                              body["order"]["value"])
        assert broken, (extra, totals)
        for rule in broken:
            event(f"an offer more: {response.status_code}, {rule}")

    # Exactly grant_now is granted.
    if not chosen:
        return
    response = grant_set(api, caller, decision_id, now["offers"])
    assert response.status_code == 201, (now, totals, response.json)
    assert [g["offer_id"] for g in response.json["grants"]] == now["offers"]
    assert response.json["total"] == now["total"]
    stored = grants_of(api, decision_id)
    assert sorted(g.offer_id for g in stored) == sorted(now["offers"])
    assert {g.principal for g in stored} == {principal}

    # Nothing else fits now: a fresh grant_now is empty.
    again = api.client.get(f"/v1/decisions/{decision_id}", headers=caller)
    assert again.status_code == 200, again.json
    assert again.json["grant_now"]["offers"] == [], again.json["grant_now"]
