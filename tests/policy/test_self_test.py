"""`amends policy test`: failures say what was expected and what came; exit codes tell."""


from decimal import Decimal
from types import SimpleNamespace

import pytest

from service.app.active_policy import ActivePolicy
from service.cli import main
from service.config import shipped_policy
from service.domain.money import Money
from service.domain.offer import Offer
from service.domain.vocabulary import Approval, OfferSource
from service.policy.self_test import PolicyTestsFailed, compare_offers


def break_first_expectation(directory):
    tests = directory / "tests.yaml"
    text = tests.read_text()
    text = text.replace('- {remedy: discount, value: "12.00", percent: 10, approval: not_required}',
                        '- {remedy: discount, value: "13.00", percent: 10, approval: required}', 1)
    text = text.replace("outlook: likely", "outlook: unlikely", 1)
    tests.write_text(text)


def test_shipped_policy_tests_pass(capsys):
    assert main(["policy", "test", str(shipped_policy())]) == 0
    assert capsys.readouterr().out.strip().endswith("27 passed, 0 failed")


def test_failing_case_prints_expected_versus_actual(policy_copy, capsys):
    break_first_expectation(policy_copy)
    assert main(["policy", "test", str(policy_copy)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "tests.yaml:5 first minor unavoidable late delivery" in out
    assert "outlook: expected unlikely, got likely" in out
    assert "discount value: expected 13.00, got 12.00" in out
    assert "discount approval: expected required, got not_required" in out
    assert out.strip().endswith("26 passed, 1 failed")


def test_failures_show_words_as_written_in_the_test_file(policy_copy, capsys):
    tests = policy_copy / "tests.yaml"
    tests.write_text(tests.read_text().replace("factors: {first_failure: helps",
                                               "factors: {first_failure: hurts", 1))
    assert main(["policy", "test", str(policy_copy)]) == 1
    out = capsys.readouterr().out
    assert "'first_failure': 'hurts'" in out and "'first_failure': 'helps'" in out
    assert "<FactorEffect" not in out


def test_a_policy_whose_tests_fail_is_never_activated(policy_copy):
    break_first_expectation(policy_copy)
    with pytest.raises(PolicyTestsFailed) as caught:
        ActivePolicy.load(policy_copy)
    assert "1 of its 27 test cases fail" in str(caught.value)


def test_offers_must_be_listed_exactly(policy_copy, capsys):
    tests = policy_copy / "tests.yaml"
    tests.write_text(tests.read_text().replace(
        '        - {remedy: waived_shipping, value: "7.50", approval: not_required}\n', "", 1))
    assert main(["policy", "test", str(policy_copy)]) == 1
    out = capsys.readouterr().out
    assert ("offers: expected discount, store_credit, got discount, store_credit, "
            "waived_shipping") in out


def test_each_expected_offer_is_held_to_an_offer_of_its_own():
    """Two discounts (the customer's 20.00 and the policy's 10.00): listing 20.00 twice fails,
    listing both in either order passes, and an entry listing less takes what is left."""
    def discount(number, amount, source):
        return Offer(number, "discount", Money(Decimal(amount), "EUR"), None,
                     Approval.NOT_REQUIRED, None, None, "x", source=source)

    decision = SimpleNamespace(offers=(discount(1, "20.00", OfferSource.CUSTOMER_ASK),
                                       discount(2, "10.00", OfferSource.POLICY)))

    def expect(*entries):
        return compare_offers([{"remedy": "discount", "variant": "full", **entry}
                               for entry in entries], decision)

    twice = expect({"value": Decimal("20.00")}, {"value": Decimal("20.00")})
    assert [(m.what, m.expected, m.actual) for m in twice] == [
        ("discount value", Decimal("20.00"), Decimal("10.00"))]
    assert expect({"value": Decimal("10.00")}, {"value": Decimal("20.00")}) == []
    assert expect({}, {"value": Decimal("20.00")}) == []
