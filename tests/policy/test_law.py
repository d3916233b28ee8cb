"""Policies that state the law (issue 11): kinds fixed by law or with their own ceiling,
entitlements without a money value, exemptions that withdraw what other rules proposed, and
policy tests that assert them."""

import textwrap

import pytest

from service.app.active_policy import ActivePolicy, read_policy
from service.app.intake import parse_incident
from service.cli import main
from service.domain.incident import History
from service.policy.problems import PolicyInvalid
from tests.conftest import design_example
from tests.support.policy_files import edit

KINDS = textwrap.dedent("""\
    remedy_kinds:
      cash_compensation:
        scales: false
        combines: true
        statutory: true
        description: Compensation fixed by law
      goodwill_voucher:
        scales: true
        combines: true
        ceiling_percent: 300
        description: A voucher with its own ceiling
    """)

RULES = textwrap.dedent("""\
    rules:
      - id: statutory-amount
        description: The law fixes 250.00 whatever the order's value.
        priority: 50
        when: {failure.category: cancelled_service}
        then:
          remedies:
            - kind: cash_compensation
              amount: {EUR: "250.00", USD: "250.00", GBP: "250.00"}
          entitlements:
            - {name: care, description: Meals and refreshments while waiting.}
            - {name: rerouting_or_refund, description: "Re-routing or a refund, as chosen."}
      - id: double-fare
        description: 200% of the fare, which the law allows.
        priority: 60
        when: {failure.category: cancelled_service, failure.severity: 5}
        then:
          remedies:
            - {kind: cash_compensation, percent: 200}
      - id: voucher
        description: A voucher of 250% of the order, within its own ceiling of 300%.
        priority: 70
        when: {failure.category: cancelled_service}
        then:
          remedies:
            - {kind: goodwill_voucher, percent: 250}
      - id: extraordinary
        description: Extraordinary circumstances exempt the carrier from paying.
        priority: 10
        when: {failure.avoidable: false, failure.category: cancelled_service}
        then:
          withdraw:
            - {remedy: cash_compensation, reason: "extraordinary circumstances (Art. 5(3))"}
            - {entitlement: rerouting_or_refund, reason: "offered already"}
    """)


@pytest.fixture
def law(policy_copy):
    edit(policy_copy, "policy.yaml", "history_window_days:", KINDS + "history_window_days:")
    roles = policy_copy / "roles.yaml"  # every role above the agent grants the new kinds
    roles.write_text(roles.read_text().replace(
        "free_upgrade, refund, replacement]",
        "free_upgrade, refund, replacement, cash_compensation, goodwill_voucher]"))
    (policy_copy / "law.yaml").write_text(RULES)
    (policy_copy / "tests.yaml").write_text("tests: []\n")  # the shipped ones know no law
    return policy_copy


def decide(active, role="team_lead", **changes):
    body = design_example(**{"failure__category": "cancelled_service",
                             "order__value": "99.00", "customer_ask": None, **changes})
    return active.decide(parse_incident(body, active.policy), role, History())


def offers(decision):
    return {o.remedy: o.value.amount for o in decision.offers if o.variant == "full"}


def test_a_statutory_amount_above_the_goodwill_ceiling_is_kept(law):
    active = ActivePolicy.prove(read_policy(law))
    decision = decide(active, failure__avoidable=True)
    # 250.00 on a 99.00 order: 253% of it, above the 150% ceiling that binds goodwill.
    assert str(offers(decision)["cash_compensation"]) == "250.00"
    assert not any("cash_compensation" in note for note in decision.notes)


def test_a_percentage_above_150_is_allowed_where_the_kind_permits(law):
    active = ActivePolicy.prove(read_policy(law))
    decision = decide(active, failure__avoidable=True, failure__severity=5)
    assert str(offers(decision)["cash_compensation"]) == "250.00"  # the larger of 250, 198
    assert str(offers(decision)["goodwill_voucher"]) == "247.50"  # 250% within its 300%


def test_the_goodwill_ceiling_is_explained_where_it_applies(law):
    active = ActivePolicy.prove(read_policy(law))
    decision = decide(active, failure__avoidable=True,
                      customer_ask={"remedy": "store_credit", "amount": "500.00"})
    note = next(n for n in decision.notes if n.startswith("customer_ask"))
    assert "goodwill ceiling of 150% of the order value" in note
    assert "lowers loyalty" in note and "fixed by law are exempt" in note


def test_entitlements_are_carried_and_an_exemption_withdraws_with_a_trace(law):
    active = ActivePolicy.prove(read_policy(law))
    paid = decide(active, failure__avoidable=True)
    assert [(e.name, e.rule) for e in paid.entitlements] == [
        ("care", "statutory-amount"), ("rerouting_or_refund", "statutory-amount")]
    assert paid.withdrawn == ()
    exempt = decide(active, failure__avoidable=False)
    assert "cash_compensation" not in offers(exempt)
    assert [e.name for e in exempt.entitlements] == ["care"]
    assert [(w.what, w.name, w.rule, w.from_rules) for w in exempt.withdrawn] == [
        ("remedy", "cash_compensation", "extraordinary", ("statutory-amount",)),
        ("entitlement", "rerouting_or_refund", "extraordinary", ("statutory-amount",))]
    assert "extraordinary" in [rule.id for rule in exempt.trace]


def test_the_api_shows_entitlements_and_what_was_withdrawn(law):
    from service.web.presenters.decisions import decision_json

    active = ActivePolicy.prove(read_policy(law))
    document = decision_json(decide(active, failure__avoidable=False), "d-1")
    assert document["entitlements"] == [{"name": "care", "description":
                                         "Meals and refreshments while waiting.",
                                         "rule": "statutory-amount"}]
    withdrew = next(t for t in document["trace"] if t["rule"] == "extraordinary")["withdrew"]
    assert withdrew[0] == {"remedy": "cash_compensation", "rule": "extraordinary",
                           "reason": "extraordinary circumstances (Art. 5(3))",
                           "from_rules": ["statutory-amount"]}
    assert document["withdrawn"] == withdrew


def test_a_percentage_above_the_kinds_ceiling_is_refused_with_advice(law):
    edit(law, "law.yaml", "percent: 250}", "percent: 350}")
    edit(law, "law.yaml", "- {kind: cash_compensation, percent: 200}",
         "- {kind: discount, percent: 200}")
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(law)
    messages = sorted(p.message for p in caught.value.problems)
    assert messages == [
        "200% is above the ceiling of 150% of the order value for discount; a kind fixed by "
        "law says `statutory: true`, another may have its own `ceiling_percent`",
        "350% is above the ceiling of 300% of the order value for goodwill_voucher; a kind "
        "fixed by law says `statutory: true`, another may have its own `ceiling_percent`"]


def test_withdrawing_what_nothing_grants_is_a_problem(law):
    edit(law, "law.yaml", "{entitlement: rerouting_or_refund", "{entitlement: rerouting")
    edit(law, "law.yaml", "{remedy: cash_compensation, reason",
         "{remedy: cash_money, reason")
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(law)
    problems = {(p.rule, p.field): p.message for p in caught.value.problems}
    assert "unknown remedy kind `cash_money`" in problems["extraordinary", "then.withdraw.0.remedy"]
    assert "which no rule grants" in problems["extraordinary", "then.withdraw.1.entitlement"]


def test_policy_tests_assert_entitlements_notes_and_rules_fired(law, capsys):
    (law / "tests.yaml").write_text(textwrap.dedent("""\
        tests:
          - name: exempt
            role: team_lead
            incident:
              incident_id: T-1
              customer: {id: C-1}
              order: {id: O-1, value: "99.00", currency: EUR}
              failure: {category: cancelled_service, severity: 2, avoidable: false}
            expect:
              entitlements: [care]
              fired: [extraordinary, statutory-amount]
          - name: wrong on purpose
            role: team_lead
            incident:
              incident_id: T-2
              customer: {id: C-1}
              order: {id: O-1, value: "99.00", currency: EUR}
              failure: {category: cancelled_service, severity: 2, avoidable: false}
              customer_ask: {remedy: store_credit, amount: "500.00"}
            expect:
              entitlements: [care, rerouting_or_refund]
              fired: [double-fare]
              notes: [goodwill ceiling, no such note]
        """))
    assert main(["policy", "test", str(law)]) == 1
    out = capsys.readouterr().out
    assert "tests.yaml:2 exempt" not in out
    assert "entitlements: expected ['care', 'rerouting_or_refund'], got ['care']" in out
    assert "fired: expected double-fare among the rules fired" in out
    assert "notes: expected a note saying 'no such note'" in out
    assert "goodwill ceiling" not in out.split("notes: expected")[0].split("wrong on purpose")[1]
    assert out.strip().endswith("1 passed, 1 failed")
