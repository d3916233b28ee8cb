"""The decision core alone: a pure function, no engine, no Flask."""

from decimal import Decimal

import pytest

from service.app.active_policy import read_policy
from service.app.intake import parse_incident
from service.config import shipped_policy
from service.domain.decision import decide, merge_steps, recovery_outlook
from service.domain.incident import History, IncidentInvalid
from service.domain.running_totals import GrantedSoFar
from service.policy.conditions import fired_by_reference
from service.policy.model import Step
from tests.conftest import design_example


@pytest.fixture(scope="module")
def policy():
    return read_policy(shipped_policy())


def reference(policy):
    return lambda fact: fired_by_reference(policy.rules, fact)


def test_core_runs_with_any_rule_matcher_and_no_io(policy):
    seen = []

    def only_sequence(fact):
        seen.append(fact)
        return ["recovery-sequence"]

    incident = parse_incident(design_example(customer_ask=None), policy)
    decision = decide(incident, History(), policy, "agent", only_sequence)
    assert seen[0]["failure.severity"] == 2
    assert seen[0]["order.value"] == 1_200_000  # decimals reach the engine as scaled integers
    assert decision.outlook == "uncertain"  # no factor at all
    assert [s.step for s in decision.steps] == ["acknowledge", "apologize", "understand", "fix"]
    assert decision.offers == ()


def test_history_raises_prior_failures_but_never_lowers_them(policy):
    incident = parse_incident(design_example(customer__prior_failures=2), policy)
    assert decide(incident, History(0), policy, "agent", reference(policy)).prior_failures == 2
    assert decide(incident, History(5), policy, "agent", reference(policy)).prior_failures == 5


@pytest.mark.parametrize(("effects", "outlook"), [
    ([], "uncertain"),
    (["helps"], "likely"),
    (["helps", "hurts"], "uncertain"),
    (["hurts", "hurts"], "unlikely"),
    (["helps", "helps", "blocks"], "unlikely"),
])
def test_outlook_rule(effects, outlook):
    from service.domain.decision import FactorUse

    factors = tuple(FactorUse(f"f{n}", e, "r") for n, e in enumerate(effects))
    assert recovery_outlook(factors, unlikely_at_hurts=2) == outlook


def test_steps_keep_the_recovery_order_and_the_soonest_follow_up():
    from service.policy.model import ALWAYS, Rule

    def rule(*steps):
        return Rule("r", "d", ALWAYS, 1, 0, "f", 1, steps=steps)

    steps = merge_steps([rule(Step("fix"), Step("follow_up", 3)),
                         rule(Step("acknowledge"), Step("follow_up", 1))])
    assert steps == (Step("acknowledge"), Step("fix"), Step("follow_up", 1))


def test_money_is_rounded_to_the_currency_minor_unit(policy):
    body = design_example(customer_ask=None, order={"id": "O", "value": "33.33",
                                                     "currency": "USD"})
    decision = decide(parse_incident(body, policy), History(), policy, "agent",
                      reference(policy))
    discount = next(o for o in decision.offers if o.remedy == "discount")
    assert discount.value.amount == Decimal("3.33")  # 10% of 33.33, half up to cents
    assert discount.value.currency == "USD"
    assert all(isinstance(o.value.amount, Decimal) for o in decision.offers)


def test_ask_over_the_ceiling_is_capped_and_noted(policy):
    body = design_example(customer_ask={"remedy": "store_credit", "amount": "1000.00"})
    decision = decide(parse_incident(body, policy), History(), policy, "manager",
                      reference(policy))
    asked = decision.offers[0]
    assert (asked.source, asked.value.amount) == ("customer_ask", Decimal("180.00"))
    assert any("ceiling of 150% of the order value" in note for note in decision.notes)


def test_amounts_in_words_are_in_the_currencys_minor_unit(policy):
    """An order value sent as "120" is 120.00 EUR in the words of the capped variant's
    reason, as every amount Amends writes."""
    body = design_example(order__value="120", customer_ask={"remedy": "refund"})
    decision = decide(parse_incident(body, policy), History(), policy, "agent",
                      reference(policy))
    (capped,) = [offer for offer in decision.offers if offer.variant == "capped"]
    assert capped.reason.startswith("Closest to the customer's ask (refund, 120.00 EUR) ")


@pytest.mark.parametrize("value", ["0.00", "0"])
def test_an_order_worth_nothing_gets_no_offer_worth_nothing(policy, value):
    """Its goodwill ceiling is 0.00: a gesture capped to it is none. Such offers had been
    made and granted, and counted toward the abuse signal as grants."""
    body = design_example(order__value=value,
                          customer_ask={"remedy": "store_credit", "amount": "10.00"})
    decision = decide(parse_incident(body, policy), History(), policy, "agent",
                      reference(policy))
    assert decision.offers == () and decision.grant_now.offers == ()
    nothing = "left out, the goodwill ceiling of 150% of the order value"
    assert any(note.startswith("customer_ask: store_credit " + nothing)
               and note.endswith("is nothing for this order") for note in decision.notes)
    assert any(note.startswith("small-gesture: store_credit " + nothing)
               for note in decision.notes)


def test_a_value_the_order_does_not_give_is_unknown_not_nothing(policy):
    body = design_example(customer_ask=None)
    del body["order"]["shipping_fee"]
    decision = decide(parse_incident(body, policy), History(), policy, "agent",
                      reference(policy))
    assert "waive-shipping: waived_shipping left out, its value is unknown here: the order " \
        "gives no shipping_fee" in decision.notes


def test_two_capped_variants_alike_are_shown_once(policy):
    """The refund asked for and the policy's store credit, both beyond the agent: each would
    get a store credit capped at the agent's 50.00, two offers that look the same. The first
    stands for both: granting it leaves neither original open (an alternative, one kind)."""
    body = design_example(order__value="300.00", failure__category="wrong_item",
                          failure__severity=3, customer__tier="gold",
                          customer_ask={"remedy": "refund", "amount": "150.00"})
    decision = decide(parse_incident(body, policy), History(), policy, "agent",
                      reference(policy))
    capped = [(o.remedy, o.value.amount, o.capped_from) for o in decision.offers
              if o.variant == "capped"]
    assert capped == [("store_credit", Decimal("50.00"), 1), ("discount", Decimal("50.00"), 4)]
    assert [o.remedy for o in decision.offers if o.variant == "full"] == [
        "refund", "store_credit", "discount", "replacement"]


def test_an_ask_given_in_kind_is_worth_no_more_than_the_order_says(policy):
    """Waiving a shipping fee of 7.50 is worth 7.50, whatever the customer names; it takes
    the place of the policy's own waived shipping."""
    body = design_example(customer_ask={"remedy": "waived_shipping", "amount": "40.00"})
    decision = decide(parse_incident(body, policy), History(), policy, "agent",
                      reference(policy))
    waived = [o for o in decision.offers if o.remedy == "waived_shipping"]
    assert [(o.source, o.value.amount) for o in waived] == [
        ("customer_ask", Decimal("7.50"))]
    assert "customer_ask: waived_shipping capped at 7.50 EUR, what it is worth for this " \
        "order" in decision.notes


def test_an_ask_held_lower_restates_its_percent(policy):
    """A discount of 150 % asked on a 2000.00 order is held at the ceiling the policy sets
    for discounts: its percent says what the value is, not what was asked."""
    body = design_example(customer_ask={"remedy": "discount", "percent": "150"},
                          order__value="2000.00")
    decision = decide(parse_incident(body, policy), History(), policy, "manager",
                      reference(policy))
    asked = decision.offers[0]
    assert asked.source == "customer_ask" and asked.value.amount < Decimal("3000.00")
    assert asked.percent == asked.value.amount * 100 / Decimal("2000.00")
    assert asked.percent < 150


def test_unknown_vocabulary_is_refused_with_every_field(policy):
    body = design_example(customer_ask={"remedy": "cash"})
    body["failure"]["category"] = "volcano"
    body["order"]["currency"] = "CHF"
    body["context"] = {"weather": "bad", "days_since_delivery": "3"}
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(body, policy)
    assert set(caught.value.errors) == {"failure.category", "order.currency",
                                        "customer_ask.remedy", "context.weather",
                                        "context.days_since_delivery"}


def test_fields_the_schema_refuses_and_words_the_policy_lacks_are_named_together(policy):
    """One round trip names every field at fault: the schema's and the policy's."""
    body = design_example(customer_ask={"remedy": "cash", "amount": "1.234"})
    body["failure"].update(severity=9, category="volcano", occurred_on="2023-12-31")
    body["customer"]["tier"] = "diamond"
    body["context"] = {"weather": "bad", "days_since_delivery": None}
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(body, policy)
    errors = caught.value.errors
    assert set(errors) == {"failure.severity", "failure.category", "failure.occurred_on",
                           "customer.tier", "customer_ask.remedy", "customer_ask.amount",
                           "context.weather", "context.days_since_delivery"}
    assert errors["context.days_since_delivery"] == ["Field may not be null."]
    assert "decimal places" in errors["customer_ask.amount"][0]


def test_incident_before_the_policy_applies_is_refused(policy):
    body = design_example()
    body["failure"]["occurred_on"] = "2023-12-31"
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(body, policy)
    assert "2024-01-01" in caught.value.errors["failure.occurred_on"][0]


def test_a_percent_held_lower_by_the_rules_own_cap_is_restated(policy):
    """The shipped rule offers gold customers store credit of 20 %, capped at 150.00: on an
    order of 1000.00 that is 15 % of the order, and the offer says 15, not 20."""
    body = design_example(customer_ask=None, customer__tier="gold", order__value="1000.00",
                          failure={"category": "wrong_item", "severity": 3,
                                   "avoidable": False, "description": "x"})
    decision = decide(parse_incident(body, policy), History(), policy, "supervisor",
                      reference(policy))
    credit = next(o for o in decision.offers if o.remedy == "store_credit")
    assert credit.value.amount == Decimal("150.00")
    assert credit.percent == Decimal("15.00")


def after_grants_on_the_order(policy, granted: str, category: str, severity: int,
                              ask: dict | None = None):
    """The agent's decision on an avoidable failure of a 2000.00 EUR order on which
    `granted` EUR was granted already."""
    body = design_example(customer_ask=ask, order__value="2000.00",
                          failure={"category": category, "severity": severity,
                                   "avoidable": True, "description": "x"})
    history = History(0, GrantedSoFar(order={"EUR": Decimal(granted)}))
    return decide(parse_incident(body, policy), history, policy, "agent", reference(policy))


def test_no_offer_is_proposed_that_no_role_may_grant(policy):
    """2000.00 EUR already granted on the order leaves even the manager's per-order cap
    (3000.00) 1000.00: a refund of the order's 2000.00 is held to that (it scales), and
    needs the manager, never `required` with no approver."""
    decision = after_grants_on_the_order(policy, "2000.00", "billing_error", 5)
    assert decision.offers
    for offer in decision.offers:
        assert offer.approval == "not_required" or offer.approver_role is not None, offer
        assert offer.value.amount <= Decimal("1000.00")
    refund = next(o for o in decision.offers if o.remedy == "refund")
    assert (refund.value.amount, refund.approver_role) == (Decimal("1000.00"), "manager")
    assert any("refund capped at 1000.00 EUR, the most any role may still grant now (what "
               "is left of the manager per-order cap of 3000.00 EUR)" in note
               for note in decision.notes), decision.notes


def test_an_offer_no_role_may_grant_that_does_not_scale_is_left_out(policy):
    decision = after_grants_on_the_order(policy, "2500.00", "wrong_item", 4)
    assert "replacement" not in [o.remedy for o in decision.offers]
    assert any(note.startswith(tuple(f"{rule.id}: replacement left out, no role may grant "
                                     "2000.00 EUR" for rule in decision.trace))
               for note in decision.notes), decision.notes


def test_offers_held_to_the_same_amount_are_one(policy):
    """The customer's ask of a 1500.00 refund and the rule's 2000.00 both come down to the
    1000.00 the caps leave: one offer (the ask), as when they are equal from the start."""
    decision = after_grants_on_the_order(policy, "2000.00", "billing_error", 5,
                                         {"remedy": "refund", "amount": "1500.00"})
    refunds = [o for o in decision.offers if o.remedy == "refund" and o.variant == "full"]
    assert [(o.source, o.value.amount) for o in refunds] == [
        ("customer_ask", Decimal("1000.00"))]
    assert sum("refund capped at 1000.00 EUR" in note for note in decision.notes) == 1


def test_under_the_abuse_signal_no_offer_is_made_that_no_one_may_approve(policy, tmp_path):
    """Keeping an offer under full caps asks whether some role may grant it, whoever asks.
    The abuse signal then sends an approval above the caller: where no role above grants
    the kind (a manager of refunds and replacements only), the offer is left out for that
    caller with the reason, never made `required` with no approver."""
    from tests.support.policy_files import copy_policy

    folder = copy_policy(tmp_path / "policy")
    lines = (folder / "roles.yaml").read_text().splitlines()
    manager = next(i for i, line in enumerate(lines) if line.startswith("  manager:"))
    remedies = next(i for i in range(manager, len(lines)) if "remedies:" in lines[i])
    lines[remedies] = "    remedies: [refund, replacement]"
    (folder / "roles.yaml").write_text("\n".join(lines) + "\n")
    narrow = read_policy(folder)
    body = design_example()
    history = History(0, GrantedSoFar(customer_grants_in_window=4))
    decisions = {role: decide(parse_incident(body, narrow), history, narrow, role,
                              lambda fact: fired_by_reference(narrow.rules, fact))
                 for role in narrow.escalation}
    for decision in decisions.values():
        assert all(o.approval == "not_required" or o.approver_role for o in decision.offers)
    kinds = {role: sorted(o.remedy for o in d.offers) for role, d in decisions.items()}
    assert kinds["agent"] == ["discount", "refund", "store_credit", "waived_shipping"]
    assert kinds["supervisor"] == kinds["manager"] == ["refund"]
    assert "small-gesture: store_credit left out, abuse signal: 4 grants to this customer " \
        "in 30 days (threshold 4): only manager may approve past it, and manager grants no " \
        "store_credit" in decisions["supervisor"].notes


def test_under_the_abuse_signal_an_offer_is_held_to_what_the_approvers_may_grant(
        policy, tmp_path):
    """Where the roles that may approve past the abuse signal have less room than one below
    (an odd policy: supervisor and manager capped at 100.00 an order), a scalable offer is
    held to what they may grant, with the reason; never dropped as if they lacked the kind."""
    import yaml

    from tests.support.policy_files import copy_policy

    folder = copy_policy(tmp_path / "policy")
    roles = yaml.safe_load((folder / "roles.yaml").read_text())
    for name in ("supervisor", "manager"):
        roles["roles"][name]["per_order_cap"] = {"EUR": "100.00", "USD": "110.00",
                                                 "GBP": "90.00"}
    (folder / "roles.yaml").write_text(yaml.safe_dump(roles, sort_keys=False))
    odd = read_policy(folder)
    body = design_example(customer_ask={"remedy": "discount", "amount": "150.00"},
                          order__value="300.00",
                          failure={"category": "damaged_item", "severity": 4,
                                   "avoidable": True, "description": "x"})
    history = History(0, GrantedSoFar(customer_grants_in_window=4))
    decision = decide(parse_incident(body, odd), history, odd, "team_lead",
                      lambda fact: fired_by_reference(odd.rules, fact))
    # The ask (150.00) and the rule's (180.00) both come down to 100.00: one offer of it.
    [discount] = [o for o in decision.offers if o.remedy == "discount"]
    assert (discount.value.amount, discount.approver_role) == (Decimal("100.00"), "supervisor")
    assert [note for note in decision.notes if "discount capped" in note] == [
        "customer_ask: discount capped at 100.00 EUR, the most supervisor, manager may grant "
        "now (what is left of the supervisor per-order cap of 100.00 EUR), who alone may "
        "approve past the abuse signal: 4 grants to this customer in 30 days (threshold 4)"]


def test_a_statutory_amount_is_never_held_lower_for_running_totals(tmp_path):
    """EU 261's 400.00 EUR stays 400.00 on an order whose caps (300.00, given here to both
    roles) were mostly used up: due by law, it needs a role whose limits cover it, and the
    note says none does now."""
    import shutil

    import yaml

    from service.config import shipped_policy

    folder = tmp_path / "eu261"
    shutil.copytree(shipped_policy().parent / "examples" / "eu261", folder)
    roles = yaml.safe_load((folder / "roles.yaml").read_text())
    for role in roles["roles"].values():
        role["per_order_cap"] = {"EUR": "300.00"}
    (folder / "roles.yaml").write_text(yaml.safe_dump(roles, sort_keys=False))
    eu = read_policy(folder)
    body = yaml.safe_load((folder / "tests.yaml").read_text())["tests"][0]["incident"]
    body["context"]["distance_km"] = 2000  # 400.00 EUR due (Art. 7(1)(b))
    history = History(0, GrantedSoFar(order={"EUR": Decimal("250.00")}))
    decision = decide(parse_incident(body, eu), history, eu, "claims_handler",
                      lambda fact: fired_by_reference(eu.rules, fact))
    [cash] = [o for o in decision.offers if o.remedy == "cash_compensation"]
    assert cash.value.amount == Decimal("400.00") and cash.approval == "required"
    assert any("cash_compensation is due in full by law, but no role's limits and caps cover "
               "400.00 EUR now" in note for note in decision.notes), decision.notes


def test_a_statutory_amount_past_the_abuse_signal_says_why_no_one_may_approve(tmp_path):
    """Due by law, it stays whole and `required`; when only the abuse signal leaves no role
    that may approve it (the claims lead, above the handler, may grant 300.00 only), a note
    says so."""
    import shutil

    import yaml

    from service.config import shipped_policy

    folder = tmp_path / "eu261"
    shutil.copytree(shipped_policy().parent / "examples" / "eu261", folder)
    roles = yaml.safe_load((folder / "roles.yaml").read_text())
    roles["abuse_signal"] = {"grants_in_window": 2}
    roles["roles"]["claims_lead"]["per_incident_limit"] = {"EUR": "300.00"}
    (folder / "roles.yaml").write_text(yaml.safe_dump(roles, sort_keys=False))
    eu = read_policy(folder)
    body = yaml.safe_load((folder / "tests.yaml").read_text())["tests"][0]["incident"]
    body["context"]["distance_km"] = 2500  # 400.00 EUR due
    history = History(0, GrantedSoFar(customer_grants_in_window=2))
    decision = decide(parse_incident(body, eu), history, eu, "claims_handler",
                      lambda fact: fired_by_reference(eu.rules, fact))
    [cash] = decision.offers
    assert (cash.value.amount, cash.approval, cash.approver_role) == (
        Decimal("400.00"), "required", None)
    assert any("cash_compensation is due in full by law, but past the abuse signal: 2 grants "
               "to this customer in 30 days (threshold 2) only claims_lead may approve, and "
               "none may grant 400.00 EUR now" in note for note in decision.notes)


def small_policy(folder, policy: str, roles: str, rules: str):
    """A policy folder of these files (and no test cases), read and checked."""
    import textwrap

    from tests.support.policy_files import write_policy

    return read_policy(write_policy(folder, policy_yaml=textwrap.dedent(policy),
                                    roles_yaml=textwrap.dedent(roles),
                                    rules_yaml=textwrap.dedent(rules)))


def incident_of(policy, value: str, currency: str, category: str, context=None, ask=None):
    body = {"incident_id": "I-1", "customer": {"id": "C-1"},
            "order": {"id": "O-1", "value": value, "currency": currency},
            "failure": {"category": category, "severity": 2, "avoidable": False}}
    if context:
        body["context"] = context
    if ask:
        body["customer_ask"] = ask
    return parse_incident(body, policy)


STATUTORY = ("""\
    name: statutory
    description: One statutory kind, due per passenger or per booking.
    currencies: [EUR]
    customer_tiers: [standard]
    failure_categories: [cancellation]
    history_window_days: 365
    max_compensation_percent: 150
    context:
      passengers: {type: integer, required: true, description: Passengers on the booking}
    remedy_kinds:
      cash_compensation: {scales: false, combines: true, statutory: true}
    """, """\
    escalation: [handler, lead]
    rolling_window_days: 30
    roles:
      handler:
        description: Handler
        per_incident_limit: {EUR: "600.00"}
        remedies: [cash_compensation]
      lead:
        description: Lead
        admin: true
        per_incident_limit: {EUR: "2000.00"}
        remedies: [cash_compensation]
    """, """\
    rules:
      - id: per-booking
        description: At least 250 EUR is due on any cancelled booking.
        priority: 100
        then:
          remedies:
            - kind: cash_compensation
              amount: {EUR: "250.00"}
      - id: per-passenger
        description: 600 EUR is due for each passenger.
        priority: 100
        then:
          remedies:
            - kind: cash_compensation
              compute: context.passengers * 600 EUR
    """)


def test_a_statutory_amount_no_role_may_grant_is_left_out_never_a_smaller_one(tmp_path):
    """Two rules make 250.00 and 2400.00 EUR due of one statutory kind; the lead, the top
    role, may grant 2000.00. The law makes the largest due: it is left out, with a note that
    no role may grant it, and the 250.00 is not offered in its place (approval-free, as
    what the law makes due)."""
    policy = small_policy(tmp_path / "statutory", *STATUTORY)
    incident = incident_of(policy, "100.00", "EUR", "cancellation", {"passengers": 4},
                           {"remedy": "cash_compensation"})
    decision = decide(incident, History(), policy, "handler", reference(policy))
    assert decision.offers == ()
    assert ("per-passenger: cash_compensation left out, no role may grant 2400.00 EUR, what "
            "the law makes due here (no smaller amount is offered instead)") in decision.notes
    assert ("customer_ask: cash_compensation left out, it is fixed by law: 2400.00 EUR as "
            "per-passenger makes it due, whatever is asked, and no role may grant that"
            ) in decision.notes
    assert not any("250.00" in note for note in decision.notes), decision.notes


def test_a_statutory_amount_some_role_may_grant_is_the_largest_proposed(tmp_path):
    policy = small_policy(tmp_path / "statutory", *STATUTORY)
    incident = incident_of(policy, "100.00", "EUR", "cancellation", {"passengers": 3},
                           {"remedy": "cash_compensation"})
    decision = decide(incident, History(), policy, "handler", reference(policy))
    [cash] = decision.offers
    assert (cash.value.amount, cash.approval, cash.approver_role, cash.rule) == (
        Decimal("1800.00"), "required", "lead", "per-passenger")
    assert ("customer_ask: cash_compensation is fixed by law: 1800.00 EUR as per-passenger "
            "makes it due, whatever is asked") in decision.notes


YEN = ("""\
    name: yen
    description: A currency without a minor unit.
    currencies: [JPY]
    customer_tiers: [standard]
    failure_categories: [late_delivery]
    history_window_days: 365
    max_compensation_percent: 150
    """, """\
    escalation: [manager]
    rolling_window_days: 30
    roles:
      manager:
        description: Manager
        admin: true
        per_incident_limit: {JPY: "100000"}
        remedies: [discount, store_credit]
    """, """\
    rules:
      - id: tenth
        description: A tenth of the order as store credit.
        priority: 100
        then:
          remedies:
            - kind: store_credit
              percent: 10
    """)


@pytest.mark.parametrize(("value", "credit", "percent"), [
    ("105", "11", Decimal("10.48")),  # 10.5 JPY rounds to 11: 10.48 % of the order
    ("104", "10", Decimal("9.62")),  # 10.4 rounds to 10
    ("1000", "100", Decimal("10")),  # exact: the rule's percent as written
])
def test_a_percent_is_restated_when_rounding_to_the_minor_unit_moves_the_value(
        tmp_path, value, credit, percent):
    policy = small_policy(tmp_path / "yen", *YEN)
    decision = decide(incident_of(policy, value, "JPY", "late_delivery"), History(), policy,
                      "manager", reference(policy))
    [offer] = decision.offers
    assert (str(offer.value.amount), offer.percent) == (credit, percent)
    assert str(offer.percent) == str(percent)


def test_a_percent_asked_is_restated_when_rounding_moves_the_value(tmp_path):
    """0.05 % of 1000 JPY is 0.5 JPY, offered as 1 JPY: 0.10 % of the order."""
    policy = small_policy(tmp_path / "yen", *YEN)
    incident = incident_of(policy, "1000", "JPY", "late_delivery",
                           ask={"remedy": "discount", "percent": "0.05"})
    decision = decide(incident, History(), policy, "manager", reference(policy))
    asked = next(o for o in decision.offers if o.source == "customer_ask")
    assert (str(asked.value.amount), str(asked.percent)) == ("1", "0.10")


SCALABLE = (STATUTORY[0].replace("{scales: false, combines: true, statutory: true}",
                                 "{scales: true, combines: true, statutory: true}"),
            *STATUTORY[1:])


def test_a_scalable_statutory_amount_is_never_held_lower_either(tmp_path):
    """A statutory kind that scales: beyond the top role's limit it is left out as one that
    does not (not capped at 2000.00); within it, the handler gets no capped share of it."""
    policy = small_policy(tmp_path / "scalable", *SCALABLE)
    beyond = incident_of(policy, "100.00", "EUR", "cancellation", {"passengers": 4})
    decision = decide(beyond, History(), policy, "handler", reference(policy))
    assert decision.offers == ()
    assert ("per-passenger: cash_compensation left out, no role may grant 2400.00 EUR, what "
            "the law makes due here (no smaller amount is offered instead)") in decision.notes
    within = incident_of(policy, "100.00", "EUR", "cancellation", {"passengers": 3})
    [cash] = decide(within, History(), policy, "handler", reference(policy)).offers
    assert (cash.value.amount, cash.approval, cash.variant) == (
        Decimal("1800.00"), "required", "full")
