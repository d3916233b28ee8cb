"""`exchange_rates` in policy.yaml: every pair the policy's currencies need, each problem
with its file and line."""

from datetime import date
from decimal import Decimal

import pytest

from service.app.active_policy import read_policy
from service.policy.problems import PolicyInvalid

SHIPPED_RATES = """\
exchange_rates:
  as_of: 2026-11-01
  rates:
    EUR: {USD: "0.92", GBP: "1.17"}
    USD: {EUR: "1.09", GBP: "1.27"}
    GBP: {EUR: "0.86", USD: "0.79"}
"""


def with_rates(folder, rates: str) -> str:
    path = folder / "policy.yaml"
    text = path.read_text()
    assert SHIPPED_RATES in text
    path.write_text(text.replace(SHIPPED_RATES, rates))
    return str(path)


def problems_of(folder):
    with pytest.raises(PolicyInvalid) as caught:
        read_policy(folder)
    return caught.value.problems


def line_of(path: str, text: str) -> int:
    return next(n for n, line in enumerate(open(path).read().splitlines(), 1) if text in line)


def test_the_shipped_rates():
    from service.config import shipped_policy
    rates = read_policy(shipped_policy()).exchange_rates
    assert rates.as_of == date(2026, 11, 1)
    assert rates.rates == {
        "EUR": {"USD": Decimal("0.92"), "GBP": Decimal("1.17")},
        "USD": {"EUR": Decimal("1.09"), "GBP": Decimal("1.27")},
        "GBP": {"EUR": Decimal("0.86"), "USD": Decimal("0.79")}}


def test_every_missing_or_wrong_pair_is_reported_on_its_line(policy_copy):
    path = with_rates(policy_copy, """\
exchange_rates:
  as_of: 2026-11-01
  rates:
    EUR: {USD: "0.92", EUR: "1"}
    USD: {EUR: "109", GBP: "1.27"}
    GBP: {EUR: "0.86"}
    JPY: {EUR: "160"}
""")
    found = {(p.line, p.message) for p in problems_of(policy_copy)}
    eur, usd, gbp, jpy = (line_of(path, f"    {c}: {{") for c in ("EUR", "USD", "GBP", "JPY"))
    assert found == {
        (eur, "a currency is worth 1 of itself: leave EUR out of the rates into EUR"),
        (eur, "no rate from GBP into EUR"),
        (gbp, "no rate from USD into GBP"),
        (jpy, "JPY is not a currency of this policy"),
        (usd, "the rate from EUR into USD (109) and back (0.92) multiply to 100.28: a round "
              "trip should come back to about 1 (0.9 to 1.1); is one of them mistyped?"),
    }
    assert all(p.file == path for p in problems_of(policy_copy))


def test_a_currency_without_any_rates_into_it(policy_copy):
    path = with_rates(policy_copy, """\
exchange_rates:
  as_of: 2026-11-01
  rates:
    EUR: {USD: "0.92", GBP: "1.17"}
    USD: {EUR: "1.09", GBP: "1.27"}
""")
    [problem] = problems_of(policy_copy)
    assert (problem.file, problem.line, problem.field) == (
        path, line_of(path, "  rates:"), "exchange_rates.rates.GBP")
    assert problem.message.startswith("no rates into GBP: say what one EUR, USD is worth")


def test_several_currencies_need_rates(policy_copy):
    path = with_rates(policy_copy, "")
    [problem] = problems_of(policy_copy)
    assert (problem.file, problem.line, problem.field) == (
        path, line_of(path, "currencies: [EUR, USD, GBP]"), "exchange_rates")
    assert "declares `exchange_rates`" in problem.message


@pytest.mark.parametrize(("rates", "field", "message"), [
    ('    EUR: {USD: "0", GBP: "1.17"}', "exchange_rates.rates.EUR.USD",
     "between 0.000000001 and 1000000000"),
    ('    EUR: {USD: "1e55", GBP: "1.17"}', "exchange_rates.rates.EUR.USD",
     "between 0.000000001 and 1000000000"),
    ("    EUR: {USD: 0.92e0, GBP: lots}", "exchange_rates.rates.EUR.GBP", "Not a valid"),
    ('    EUR: {XXX: "1.00"}', "exchange_rates.rates.EUR", "XXX is not an ISO 4217 currency"),
])
def test_a_rate_is_a_positive_decimal_between_known_currencies(policy_copy, rates, field,
                                                               message):
    with_rates(policy_copy, SHIPPED_RATES.replace('    EUR: {USD: "0.92", GBP: "1.17"}',
                                                  rates))
    problems = problems_of(policy_copy)
    assert any(p.field and p.field.startswith(field) and message in p.message
               for p in problems), [str(p) for p in problems]


def test_as_of_is_required(policy_copy):
    with_rates(policy_copy, SHIPPED_RATES.replace("  as_of: 2026-11-01\n", ""))
    problems = problems_of(policy_copy)
    assert [(p.field, p.message) for p in problems] == [
        ("exchange_rates.as_of", "Missing data for required field.")]


def test_rates_from_a_currency_the_policy_no_longer_has_go_into_every_currency(policy_copy):
    """Grants made in CHF under an earlier version still count in running totals: rates
    from CHF are allowed, into every currency of the policy."""
    with_rates(policy_copy, SHIPPED_RATES.replace('GBP: "1.17"}', 'GBP: "1.17", CHF: "1.05"}')
               .replace('GBP: "1.27"}', 'GBP: "1.27", CHF: "1.14"}')
               .replace('USD: "0.79"}', 'USD: "0.79", CHF: "0.89"}'))
    rates = read_policy(policy_copy).exchange_rates
    assert rates.rate("CHF", "USD") == Decimal("1.14")


def test_rates_from_a_currency_the_policy_no_longer_has_missing_some(policy_copy):
    path = with_rates(policy_copy, SHIPPED_RATES.replace('GBP: "1.17"}',
                                                         'GBP: "1.17", CHF: "1.05"}'))
    [problem] = problems_of(policy_copy)
    assert (problem.file, problem.line, problem.field) == (
        path, line_of(path, "  rates:"), "exchange_rates.rates")
    assert problem.message == (
        "CHF is not a currency of this policy: rates from it (for the grants made in it "
        "earlier, which running totals still count) go into every currency; none into "
        "USD, GBP")
