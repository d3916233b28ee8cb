"""The expression language of rule files: parsing, types, functions, dates, unknown values,
limits and error columns, and a property that printed random trees evaluate like a reference."""

import calendar
import copy
import functools
import io
import itertools
import pickle
import tokenize
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.policy import expressions
from service.policy.expressions import (
    Duration,
    ExpressionError,
    Type,
    add_business_days,
    compile_expression,
    fact_type,
)
from tests.conftest import examples

N, M, D, P, B, T = Type.NUMBER, Type.MONEY, Type.DATE, Type.DURATION, Type.BOOLEAN, Type.TEXT
TYPES = {
    "order.value": M, "order.shipping_fee": M, "customer.prior_failures": N,
    "failure.severity": N, "failure.occurred_on": D, "context.rate": N, "context.flag": B,
    "context.fare": T, "context.deadline": D,
}
CHOICES = {"context.fare": ("short", "long")}
FACTS = {
    "order.value": Decimal("120.00"), "order.shipping_fee": None,
    "customer.prior_failures": 3, "failure.severity": 2,
    "failure.occurred_on": date(2024, 6, 7), "context.rate": Decimal("1.5"),
    "context.flag": True, "context.fare": "short", "context.deadline": date(2024, 6, 30),
}
SATURDAY, SUNDAY, MONDAY = date(2024, 6, 8), date(2024, 6, 9), date(2024, 6, 10)
FRIDAY = date(2024, 6, 7)


def compiled(text, currencies=("EUR",), expect=None, **options):
    return compile_expression(text, TYPES, currencies, expect, choices=CHOICES, **options)


def value(text, currencies=("EUR",), currency=None, facts=None, holidays=frozenset()):
    expression = compiled(text, currencies)
    return expression.evaluate(FACTS if facts is None else facts,
                               currency or currencies[0], holidays)


def error(text, currencies=("EUR",), expect=None, **options) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compiled(text, currencies, expect, **options)
    return caught.value


# ---- parsing and precedence ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2 * 3", Decimal(7)), ("(1 + 2) * 3", Decimal(9)), ("10 - 4 - 3", Decimal(3)),
    ("2 * 3 / 4", Decimal("1.5")), ("12 / 2 / 3", Decimal(2)), ("-2 * 3", Decimal(-6)),
    ("- -2", Decimal(2)), ("--2", Decimal(2)), ("3 - -2", Decimal(5)),
    ("-(1 + 2) * 2", Decimal(-6)), ("1+2*3-4/2", Decimal(5)), ("12.5", Decimal("12.5")),
    ("007", Decimal(7)), ("\n 1 +\t2 ", Decimal(3)),
    ("not true or true", True), ("not (true or true)", False),
    ("true or false and false", True), ("(true or false) and false", False),
    ("1 + 2 < 4", True), ("not 1 > 2", True), ("1 < 2 and 2 < 3", True),
    ("true == (1 < 2)", True), ("false != false", False),
    ("2024-06-01", date(2024, 6, 1)), ('"short"', "short"), ("true", True),
])
def test_parsing_and_precedence(text, expected):
    result = value(text)
    assert result == expected and type(result) is type(expected)


def test_money_literals():
    assert value("250 EUR") == Decimal(250)
    assert value("250EUR") == Decimal(250)
    assert value("12.50 EUR") == Decimal("12.50")
    assert value("1000 JPY", ("JPY",)) == Decimal(1000)
    assert compiled("250 EUR").type is M


def test_an_expression_knows_its_text_type_and_facts():
    expression = compiled("min(order.value, order.value * context.rate) + 1 EUR")
    assert expression.type is M and str(expression) == expression.text
    assert expression.names == {"order.value", "context.rate"}
    assert compiled("1 + 2").names == frozenset()
    assert compiled("1 + 2") == compiled("1 + 2")


def test_an_expression_survives_pickle_and_deepcopy():
    expression = compiled("if(context.flag, percent(20, order.value), amount(5 EUR, 7 GBP))",
                          ("EUR", "GBP"))
    for copied in (pickle.loads(pickle.dumps(expression)), copy.deepcopy(expression)):
        assert copied == expression
        assert copied.evaluate(FACTS, "GBP") == expression.evaluate(FACTS, "GBP") == 24


def test_fact_types_of_the_policy():
    assert fact_type("decimal", "order currency") is M
    assert fact_type("decimal") is N and fact_type("integer") is N
    assert fact_type("enum") is T and fact_type("date") is D and fact_type("boolean") is B
    # types may be given by name too
    assert compile_expression("x.y + 1", {"x.y": "number"}, ("EUR",)).type is N


# ---- types -------------------------------------------------------------------------------------

SAMPLES = {N: "2", M: "order.value", D: "failure.occurred_on", P: "days(1)", B: "true",
           T: '"short"'}
ARITHMETIC = {  # as the brief states them
    ("+", M, M): M, ("-", M, M): M, ("*", M, N): M, ("*", N, M): M, ("/", M, N): M,
    ("/", M, M): N, ("+", N, N): N, ("-", N, N): N, ("*", N, N): N, ("/", N, N): N,
    ("+", D, P): D, ("-", D, P): D, ("-", D, D): N,
}
CMP = ("<", "<=", ">", ">=", "==", "!=")
VERBS = {"+": "cannot add", "-": "cannot subtract", "*": "cannot multiply", "/": "cannot divide"}


@pytest.mark.parametrize(("op", "left", "right"), list(itertools.product("+-*/", Type, Type)))
def test_arithmetic_types(op, left, right):
    text = f"{SAMPLES[left]} {op} {SAMPLES[right]}"
    if (op, left, right) in ARITHMETIC:
        assert compiled(text).type is ARITHMETIC[op, left, right]
    else:
        problem = error(text)
        assert problem.message.startswith(VERBS[op])
        assert problem.column == len(SAMPLES[left]) + 2


@pytest.mark.parametrize(("op", "left", "right"),
                         list(itertools.product(CMP, Type, Type)))
def test_comparison_types(op, left, right):
    text = f"{SAMPLES[left]} {op} {SAMPLES[right]}"
    ordered = left in (N, M, D)
    if left is right and left is not P and (ordered or op in ("==", "!=")):
        assert compiled(text).type is B
    else:
        assert error(text).column == len(SAMPLES[left]) + 2


@pytest.mark.parametrize(("op", "left", "right"),
                         list(itertools.product(("and", "or"), Type, Type)))
def test_logic_types(op, left, right):
    text = f"{SAMPLES[left]} {op} {SAMPLES[right]}"
    if left is B and right is B:
        assert compiled(text).type is B
    else:
        problem = error(text)
        assert f"`{op}` needs true/false values" in problem.message
        assert problem.column == (1 if left is not B else len(SAMPLES[left]) + len(op) + 3)


@pytest.mark.parametrize("kind", list(Type))
def test_unary_types(kind):
    if kind in (N, M):
        assert compiled(f"-{SAMPLES[kind]}").type is kind
    else:
        assert "a minus sign goes before" in error(f"-{SAMPLES[kind]}").message
    if kind is B:
        assert compiled(f"not {SAMPLES[kind]}").type is B
    else:
        assert error(f"not {SAMPLES[kind]}").message.startswith("`not` needs a true/false")


def test_type_error_messages_say_what_to_write():
    assert str(error("order.value + failure.occurred_on")) == (
        "at column 13: cannot add money and a date")
    assert str(error("order.value + 5")) == (
        "at column 13: cannot add money and a number; write the number as money, such as "
        "`5 EUR`")
    assert "such as `amount(5 EUR, 5 GBP)`" in str(error("order.value > 5", ("EUR", "GBP")))
    assert "write a duration such as days(3)" in str(error("failure.occurred_on + 3"))
    assert "write the date first" in str(error("days(3) + failure.occurred_on"))
    assert str(error("1 - order.value")) == (
        "at column 3: cannot subtract money from a number; write the number as money, such "
        "as `5 EUR`")
    assert "durations cannot be compared" in str(error("days(1) < days(2)"))
    assert "`<` compares numbers, money and dates" in str(error('"a" < "b"'))
    # a chain reports the type of what it has computed so far
    assert str(error("1 + 2 * 3 + failure.occurred_on")) == (
        "at column 11: cannot add a number and a date")


def test_expected_types():
    assert compiled("order.value", expect=M).type is M
    assert str(error("failure.occurred_on", expect=M, what="a remedy's value")) == (
        "at column 1: a remedy's value must be money, this is a date")
    assert str(error("250", expect=M)) == (
        "at column 1: the expression must be money, this is a number; write an amount such "
        "as `250 EUR`")
    assert compiled("order.value > 5 EUR", expect="boolean").type is B


def test_text_compared_with_a_choice_fact_must_be_a_choice():
    assert value('context.fare == "short"') is True
    assert value('"long" != context.fare') is True
    problem = error('context.fare == "shrot"')
    assert str(problem) == ('at column 17: "shrot" is not a value of `context.fare` '
                            '(short, long); did you mean "short"?')
    assert compile_expression('context.fare == "shrot"', TYPES, ("EUR",)).type is B  # no choices


# ---- functions ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("min(3, 1, 2)", Decimal(1)), ("max(3, 1, 2)", Decimal(3)),
    ("min(order.value, 100 EUR)", Decimal(100)), ("max(order.value, 100 EUR)", Decimal(120)),
    ("min(2024-06-01, failure.occurred_on)", date(2024, 6, 1)),
    ("percent(15, order.value)", Decimal(18)), ("percent(12.5, 80)", Decimal(10)),
    ("percent(0.5, 3 EUR)", Decimal("0.015")),
    ("round(23.45 EUR / 10)", Decimal("2.35")), ("round(23.44 EUR / 10)", Decimal("2.34")),
    ("round(0 EUR - 23.45 EUR / 10)", Decimal("-2.35")),
    ("round_down(23.49 EUR / 10)", Decimal("2.34")), ("round_up(23.41 EUR / 10)", Decimal("2.35")),
    ("round_down(0 EUR - 23.41 EUR / 10)", Decimal("-2.35")),
    ("round_up(0 EUR - 23.49 EUR / 10)", Decimal("-2.34")),
    ("round(2.5)", Decimal(3)), ("round(-2.5)", Decimal(-3)), ("round(2.49)", Decimal(2)),
    ("round_down(2.9)", Decimal(2)), ("round_up(2.1)", Decimal(3)),
    ("round_down(-2.1)", Decimal(-3)), ("round_up(-2.9)", Decimal(-2)),
    ("round(order.value / 7)", Decimal("17.14")),
    ("if(context.flag, 1, 2)", Decimal(1)), ("if(not context.flag, 1, 2)", Decimal(2)),
    ("if(customer.prior_failures >= 3, percent(30, order.value), percent(15, order.value))",
     Decimal(36)),
    ("days(3)", Duration("days", 3)), ("months(-2)", Duration("months", -2)),
    ("business_days(customer.prior_failures)", Duration("business_days", 3)),
    ("years(6 / 3)", Duration("years", 2)),
])
def test_functions(text, expected):
    result = value(text)
    assert result == expected and type(result) is type(expected)


def test_round_uses_the_order_currency():
    assert value("round(order.value / 7)", ("EUR", "JPY"), "JPY") == Decimal(17)
    assert value("round(10 KWD / 3)", ("KWD",)) == Decimal("3.333")
    assert value("round_up(10 KWD / 3)", ("KWD",)) == Decimal("3.334")


def test_money_stays_exact_unless_rounded():
    assert value("order.value / 8") == Decimal("15")
    assert str(value("1 EUR / 3")) == "0." + "3" * 60  # division keeps 60 digits
    assert value("percent(33, 0.01 EUR)") == Decimal("0.0033")
    assert value("0.1 EUR + 0.2 EUR") == Decimal("0.3")


@pytest.mark.parametrize(("text", "message", "column"), [
    ("min(1)", "min(...) takes at least 2 arguments, not 1: min(a, b, ...)", 1),
    ("if(true, 1)", "if(...) takes 3 arguments, not 2: "
                    "if(condition, value if true, value if false)", 1),
    ("round(1, 2)", "round(...) takes 1 argument, not 2: round(x)", 1),
    ("percent(order.value, 10)", "the percentage (first value) of percent(...) must be a "
                                 "number, not money", 9),
    ("percent(10, true)", "the second value of percent(...) must be money or a number, not "
                          "a true/false value", 13),
    ("min(1, order.value)", "the values of min(...) must be of one kind, not a number and "
                            "money", 8),
    ("max(true, false)", "the first value of max(...) must be a number or money or a date, "
                         "not a true/false value", 5),
    ("if(1, 2, 3)", "the condition of if(...) must be a true/false value, not a number", 4),
    ("if(true, 1, 2 EUR)", "both results of if(...) must be of one kind, not a number and "
                           "money", 13),
    ("round(failure.occurred_on)", "the value of round(...) must be money or a number, not "
                                   "a date", 7),
    ("days(order.value)", "the count of days(...) must be a number, not money", 6),
    ("days(2.5)", "days(...) counts whole days, not 2.5", 6),
    ("business_days(-1.5)", "business_days(...) counts whole business days, not -1.5", 15),
    ("roud(1)", "`roud` is not a function; did you mean round(...)?", 1),
    ("order.value(1)", "`order.value` is not a function", 1),
    ("days", "`days` is a function: write days(n)", 1),
])
def test_function_errors(text, message, column):
    problem = error(text)
    assert (problem.message, problem.column) == (message, column)


# ---- amount() ----------------------------------------------------------------------------------

THREE = ("EUR", "GBP", "USD")


def test_amount_picks_the_order_currency():
    text = "amount(250 EUR, 220 GBP, 300 USD)"
    assert [value(text, THREE, code) for code in THREE] == [250, 220, 300]
    assert value("amount(220 GBP, 300 USD, 250.50 EUR)", THREE, "EUR") == Decimal("250.50")
    assert value("amount(5 EUR)") == 5


@pytest.mark.parametrize(("text", "currencies", "message", "column"), [
    ("amount(250 EUR, 300 USD)", THREE,
     "amount(...) must name every currency of the policy once: missing GBP", 1),
    ("1 + amount()", THREE,
     "amount(...) must name every currency of the policy once: missing EUR, GBP, USD", 5),
    ("amount(250 EUR, 220 GBP, 300 USD, 1 EUR)", THREE, "amount(...) names EUR twice", 35),
    ("amount(250 EUR, 220 GBP, 300 USD, 1 CHF)", THREE,
     "CHF is not a currency of this policy (EUR, GBP, USD)", 35),
    ("amount(250 EUR, 220 GBP, 300 XYZ)", THREE, "XYZ is not a currency Amends knows", 26),
    ("amount(250.001 EUR, 220 GBP, 300 USD)", THREE,
     "EUR amounts have 2 decimal places at most: 250.001 EUR", 8),
    ("amount(order.value)", ("EUR",),
     "each part of amount(...) is an amount of one currency, such as `250 EUR`", 8),
    ("amount(-5 EUR)", ("EUR",),
     "each part of amount(...) is an amount of one currency, such as `250 EUR`", 8),
    ("250 EUR", ("EUR", "GBP"), "this policy has several currencies (EUR, GBP): write the "
                                "amount in each, as `amount(250 EUR, 250 GBP)`", 1),
    ("1 + 250 GBP", ("EUR",), "this policy's currency is EUR, not GBP", 5),
    ("2.5 JPY", ("JPY",), "JPY amounts have 0 decimal places at most: 2.5 JPY", 1),
    ("EUR", ("EUR",), "a currency code follows its amount, as in `250 EUR`", 1),
])
def test_amount_errors(text, currencies, message, column):
    problem = error(text, currencies)
    assert (problem.message, problem.column) == (message, column)


def test_evaluating_in_a_currency_outside_the_policy_is_the_callers_mistake():
    with pytest.raises(ValueError, match="CHF is not a currency of this policy"):
        compiled("1").evaluate(FACTS, "CHF")
    with pytest.raises(ValueError, match="unknown currency"):
        compiled("1", ("EUR", "XXX"))


# ---- dates -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2024-01-31 + months(1)", date(2024, 2, 29)), ("2023-01-31 + months(1)", date(2023, 2, 28)),
    ("2024-03-31 - months(1)", date(2024, 2, 29)), ("2024-01-31 + months(3)", date(2024, 4, 30)),
    ("2024-05-31 + months(-3)", date(2024, 2, 29)), ("2024-12-15 + months(1)", date(2025, 1, 15)),
    ("2024-01-15 - months(1)", date(2023, 12, 15)), ("2024-01-15 + months(25)", date(2026, 2, 15)),
    ("2024-02-29 + years(1)", date(2025, 2, 28)), ("2024-02-29 + years(4)", date(2028, 2, 29)),
    ("2024-02-29 - years(1)", date(2023, 2, 28)), ("2100-02-28 + days(1)", date(2100, 3, 1)),
    ("2000-02-28 + days(1)", date(2000, 2, 29)), ("2024-03-01 - days(1)", date(2024, 2, 29)),
    ("2024-12-31 + days(1)", date(2025, 1, 1)), ("2024-06-10 + days(-10)", date(2024, 5, 31)),
    ("2024-03-01 - 2024-02-01", Decimal(29)), ("2023-03-01 - 2023-02-01", Decimal(28)),
    ("2024-01-01 - 2025-01-01", Decimal(-366)),
    ("context.deadline - failure.occurred_on", Decimal(23)),
    ("failure.occurred_on + days(30) < context.deadline", False),
    ("max(failure.occurred_on + months(1), context.deadline)", date(2024, 7, 7)),
    ("9999-12-31 + days(1)", None), ("0001-01-01 - days(1)", None),
    ("9999-12-31 + months(1)", None), ("2024-01-01 + years(8000)", None),
    ("2024-01-01 + days(999999999999999)", None),
    ("2024-01-01 + business_days(999999999999999)", None),
])
def test_date_arithmetic(text, expected):
    result = value(text)
    assert result == expected and type(result) is type(expected)


def test_date_literals_are_checked():
    assert error("2024-02-30").message == "2024-02-30 is not a date"
    assert error("1 + 2024-6-1").message.startswith("write a date as year-month-day")
    assert error("10-2-3").column == 1
    assert value("10 - 2 - 3") == 5 and value("10-2") == 8


HOLIDAYS = frozenset({date(2024, 6, 10), date(2024, 6, 14), date(2024, 6, 15)})  # Mon, Fri, Sat


@pytest.mark.parametrize(("start", "count", "holidays", "expected"), [
    (FRIDAY, 1, frozenset(), MONDAY), (SATURDAY, 1, frozenset(), MONDAY),
    (SUNDAY, 1, frozenset(), MONDAY), (MONDAY, 5, frozenset(), date(2024, 6, 17)),
    (FRIDAY, 1, HOLIDAYS, date(2024, 6, 11)), (FRIDAY, 4, HOLIDAYS, date(2024, 6, 17)),
    (FRIDAY, 0, frozenset(), FRIDAY), (SATURDAY, 0, frozenset(), MONDAY),
    (MONDAY, 0, HOLIDAYS, date(2024, 6, 11)),
    (MONDAY, -1, frozenset(), FRIDAY), (SUNDAY, -1, frozenset(), FRIDAY),
    (SATURDAY, -1, frozenset(), FRIDAY), (date(2024, 6, 11), -1, HOLIDAYS, FRIDAY),
    (date(2024, 6, 17), -1, HOLIDAYS, date(2024, 6, 13)),
    (date(2024, 6, 17), -5, HOLIDAYS, date(2024, 6, 6)),
    (date(2024, 12, 23), 3, frozenset({date(2024, 12, 25), date(2024, 12, 26)}),
     date(2024, 12, 30)),
])
def test_business_days(start, count, holidays, expected):
    assert add_business_days(start, count, holidays) == expected
    text = f"{start.isoformat()} + business_days({count})"
    assert value(text, holidays=holidays) == expected
    if count:
        assert value(f"{start.isoformat()} - business_days({-count})", holidays=holidays) == (
            expected)


def brute_business_days(day: date, count: int, holidays) -> date:
    def works(d):
        return d.weekday() < 5 and d not in holidays

    if count == 0:
        while not works(day):
            day += timedelta(days=1)
        return day
    step = timedelta(days=1 if count > 0 else -1)
    for _ in range(abs(count)):
        day += step
        while not works(day):
            day += step
    return day


@settings(max_examples=examples(200))
@given(start=st.dates(date(2024, 1, 1), date(2024, 12, 31)), count=st.integers(-60, 60),
       holidays=st.frozensets(st.dates(date(2023, 10, 1), date(2025, 3, 31)), max_size=40))
def test_business_days_step_like_counting_one_by_one(start, count, holidays):
    assert add_business_days(start, count, holidays) == brute_business_days(start, count,
                                                                            holidays)


def test_a_large_count_of_business_days_is_quick():
    assert value("2024-06-01 + business_days(1000000)") == date(5857, 6, 26)


# ---- unknown values ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "order.shipping_fee", "order.value + order.shipping_fee", "-order.shipping_fee",
    "order.shipping_fee * 2", "order.shipping_fee > 5 EUR", "order.shipping_fee == 0 EUR",
    "min(order.value, order.shipping_fee)", "max(order.shipping_fee, 1 EUR, 2 EUR)",
    "percent(10, order.shipping_fee)", "round(order.shipping_fee)",
    "round_up(order.shipping_fee)", "order.value / order.shipping_fee",
    "context.flag and true", "true and context.flag", "false or context.flag",
    "not context.flag", "if(context.flag, 1, 2)", "if(order.shipping_fee > 1 EUR, 1, 2)",
    "failure.occurred_on + days(1)", "2024-01-01 - failure.occurred_on",
    "days(failure.severity)", "2024-01-01 + business_days(failure.severity)",
    "context.fare == \"short\"", "order.value / (1 - 1)",
    "order.value / (order.value - order.value)", "5 / (2 * 0)", "order.value / (0 EUR + 0 EUR)",
    "days(order.value / order.value / 2)", "2024-01-01 + months(1 / 3)",
    "1 EUR + order.value / (1 - 1) * 0 > 2 EUR",
])
def test_unknown_propagates(text):
    """Whatever is computed from an unknown value is unknown, but for what `and` and `or`
    settle without it (next test)."""
    facts = {**FACTS, "failure.occurred_on": None, "context.flag": None,
             "failure.severity": None, "context.fare": None}
    del facts["order.shipping_fee"]  # absent and None are both unknown
    assert value(text, facts=facts) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("false and context.flag", False), ("context.flag and false", False),
    ("true or context.flag", True), ("context.flag or true", True),
    ("context.flag and context.flag", None), ("not context.flag or true", True)])
def test_and_or_settle_what_they_can_with_an_unknown_side(text, expected):
    facts = {**FACTS, "context.flag": None}
    assert value(text, facts=facts) is expected


def test_if_looks_only_at_the_branch_it_chooses():
    facts = {**FACTS, "order.shipping_fee": None}
    assert value("if(true, order.value, order.shipping_fee)", facts=facts) == 120
    assert value("if(false, order.value / (1 - 1), 7 EUR)", facts=facts) == 7
    assert value("if(true, order.shipping_fee, order.value)", facts=facts) is None


def test_facts_of_the_wrong_python_type_are_the_callers_mistake():
    expression = compiled("order.value + 1 EUR")
    with pytest.raises(TypeError, match=r"order\.value should be money"):
        expression.evaluate({"order.value": 1.5}, "EUR")
    with pytest.raises(TypeError):
        expression.evaluate({"order.value": True}, "EUR")
    with pytest.raises(TypeError):
        compiled("failure.occurred_on").evaluate({"failure.occurred_on": "2024-01-01"}, "EUR")
    assert expression.evaluate({"order.value": 4}, "EUR") == 5  # an int is a whole number


# ---- limits and errors -------------------------------------------------------------------------

def test_length_limit():
    longest = "1" + "+1" * 499 + " "
    assert len(longest) == 1000 and value(longest) == 500
    assert value("2" + "*1" * 499) == 2
    problem = error(longest + " ")
    assert str(problem) == ("at column 1001: an expression has at most 1,000 characters; this "
                            "one has 1,001")


@pytest.mark.parametrize(("opening", "closing"), [
    ("(", ")"), ("-", ""), ("not ", ""), ("round(", ")"), ("min(1, ", ")"),
])
def test_nesting_limit(opening, closing):
    innermost = "true" if opening == "not " else "1"
    assert compiled(opening * 32 + innermost + closing * 32)
    problem = error(opening * 33 + innermost + closing * 33)
    assert problem.message == "the expression nests more than 32 deep"
    assert problem.column == 32 * len(opening) + 1


def test_the_deepest_expression_is_checked_evaluated_and_pickled():
    # every level of the grammar at each of 10 levels of if(...) and parentheses
    text = "order.value"
    for _ in range(10):
        text = (f"if(1 < 2 or true and not false, ({text}) * 2 + 1 EUR - round(10.05 EUR / 10), "
                f"0 EUR)")
    expression = compiled(text)
    assert expression.evaluate(FACTS, "EUR") == Decimal(120 * 2**10) - Decimal("0.01") * 1023
    assert pickle.loads(pickle.dumps(expression)) == expression


ZERO_DIVISOR = "dividing by zero gives no value: the expression would always be unknown"


@pytest.mark.parametrize(("text", "message", "column"), [
    ("order.valu * 2", "`order.valu` is not a fact; did you mean `order.value`?", 1),
    ("1 + custmer.prior_failures", "`custmer.prior_failures` is not a fact; did you mean "
                                   "`customer.prior_failures`?", 5),
    ("1 + zzz", "`zzz` is not a fact", 5),
    ("", "the expression is empty", 1), ("   ", "the expression is empty", 1),
    ("(1 + 2", "the `(` at column 1 is not closed", 7),
    ("min(1, 2", "expected `,` or `)` in min(...) begun at column 1", 9),
    ("min(1 2)", "expected `,` or `)` in min(...) begun at column 1", 7),
    ("1 + 2)", "this `)` has no `(` before it", 6),
    ("1 + ", "the expression ends where a value was expected", 5),
    ("1 + * 2", "expected a value before `*`", 5),
    ("min(1, , 2)", "expected a value before `,`", 8),
    ("order.value order.value", "expected an operator or the end before `order.value`", 13),
    ("1 < 2 < 3", "comparisons do not chain: write `a < b and b < c`", 7),
    ("1 == not true", "put `not ...` in parentheses here", 6),
    ('"short', 'this text has no closing `"`', 1),
    ('"sh\\"ort"', "text in quotes has no escapes (`\\`)", 4),
    ("x = 1", "`=` is not part of the language: write `==` to compare", 3),
    ("true && false", "`&&` is not part of the language: write `and`", 6),
    ("true || false", "`||` is not part of the language: write `or`", 6),
    ("!true", "`!` is not part of the language: write `not`", 1),
    ("1 <> 2", "`<>` is not part of the language: write `!=`", 3),
    ("10 % 2", "`%` is not part of the language: write percent(p, x) for p percent of x", 4),
    ("'short'", "`'` is not part of the language: put text in double quotes", 1),
    ("1 + .5", "a number starts with a digit: write 0.5, not .5", 5),
    ("12. + 1", "a number has digits after its point: write 12.0 or 12", 3),
    ("1.2.3", "a number has digits after its point: write 12.0 or 12", 4),
    ("2x", "put a space or an operator between the number 2 and what follows it", 2),
    ("1234567890123456", "a number has at most 15 digits before its point and 10 after", 1),
    ("1.12345678901", "a number has at most 15 digits before its point and 10 after", 1),
    ("Order.value", "`Order.value`: write names and words in lower case (`order.value`)", 1),
    ("1 AND 2", "`AND`: write names and words in lower case (`and`)", 3),
    ("order.", "`order.`: a name does not end with a dot, and each part of a name starts with "
               "a letter", 1),
    ("1 + order.1", "`order.`: a name does not end with a dot, and each part of a name starts "
                    "with a letter", 5),
    ("1 € 2", "unexpected character `€`", 3),
    ("1 ? 2", "unexpected character `?`", 3),
    ("order.value / 0", ZERO_DIVISOR, 13),
    ("5 / -0.00", ZERO_DIVISOR, 3),
    ("order.value / 0 EUR", ZERO_DIVISOR, 13),
    ("1 + 2 / (0)", ZERO_DIVISOR, 7),
])
def test_errors_say_where(text, message, column):
    problem = error(text)
    assert (problem.message, problem.column) == (message, column)
    assert str(problem) == f"at column {column}: {message}"


def test_a_division_by_a_written_zero_of_every_currency_is_refused():
    problem = error("order.value / amount(0 EUR, 0.00 GBP)", currencies=("EUR", "GBP"))
    assert (problem.message, problem.column) == (ZERO_DIVISOR, 13)
    assert compiled("order.value / amount(0 EUR, 1 GBP)", currencies=("EUR", "GBP"))


def test_an_expression_must_be_text():
    with pytest.raises(TypeError):
        compiled(250)


def test_the_module_never_runs_python_on_the_text():
    source = Path(expressions.__file__).read_text()
    assert "eval(" not in source and "exec(" not in source
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    names = {token.string for before, token in itertools.pairwise(tokens)
             if token.type == tokenize.NAME and before.string != "."}  # re.compile is fine
    assert not names & {"eval", "exec", "compile", "ast", "__import__", "getattr", "globals"}


# ---- property: printed random trees evaluate like a reference ----------------------------------
# Trees are tuples: ("lit", type, value), ("amount", {currency: amount}), ("fact", name),
# ("neg", x), ("not", x), ("op", op, left, right), ("call", function, args).

CURRENCIES = ("EUR", "JPY")
FIRST, LAST = date(1999, 6, 1), date(2001, 6, 30)
PREC = {"or": 1, "and": 2, "not": 3, **dict.fromkeys(CMP, 4), "+": 5, "-": 5, "*": 6, "/": 6,
        "neg": 7}
REFERENCE = Context(prec=60)
ROUNDINGS = {"round": ROUND_HALF_UP, "round_down": ROUND_FLOOR, "round_up": ROUND_CEILING}


def facts_of(kind):
    return [("fact", name) for name, fact_kind in TYPES.items() if fact_kind is kind]


def amounts():
    return st.fixed_dictionaries({"EUR": st.decimals(0, 1000, places=2),
                                  "JPY": st.decimals(0, 100000, places=0)}).map(
        lambda table: ("amount", table))


def leaves(kind):
    literal = {
        N: st.decimals(0, 1000, places=2).map(lambda d: ("lit", N, d)),
        M: amounts(),
        D: st.dates(FIRST, LAST).map(lambda d: ("lit", D, d)),
        B: st.booleans().map(lambda b: ("lit", B, b)),
    }[kind]
    return st.one_of(literal, st.sampled_from(facts_of(kind)))


def op(symbol, left, right):
    return st.tuples(st.just("op"), st.just(symbol), left, right)


def call(function, *args):
    return st.tuples(st.just("call"), st.just(function), st.tuples(*args))


COUNTS = st.one_of(st.integers(-40, 40).map(lambda n: ("lit", N, Decimal(n))),
                   st.sampled_from([("fact", "customer.prior_failures"),
                                    ("neg", ("fact", "failure.severity"))]))


def written_zero(tree) -> bool:
    """The check refuses a division by a zero the text writes (`x / 0`, `x / -0 EUR`)."""
    while tree[0] == "neg":
        tree = tree[1]
    match tree:
        case ("lit", _, value):
            return value == 0
        case ("amount", table):
            return all(amount == 0 for amount in table.values())
    return False


def divisor(kind, depth):
    return trees(kind, depth).filter(lambda tree: not written_zero(tree))


@functools.cache
def trees(kind, depth):
    if depth == 0:
        return leaves(kind)

    def sub(k):
        return trees(k, depth - 1)

    options = [leaves(kind), call("if", sub(B), sub(kind), sub(kind))]
    if kind in (N, M, D):
        options += [call(name, sub(kind), sub(kind)) for name in ("min", "max")]
        options.append(call("max", sub(kind), sub(kind), sub(kind)))
    if kind is N:
        options += [op(symbol, sub(N), sub(N)) for symbol in "+-*"]
        options += [op("/", sub(N), divisor(N, depth - 1)),
                    op("/", sub(M), divisor(M, depth - 1)), op("-", sub(D), sub(D)),
                    st.tuples(st.just("neg"), sub(N)), call("percent", sub(N), sub(N))]
        options += [call(name, sub(N)) for name in ROUNDINGS]
    elif kind is M:
        options += [op("+", sub(M), sub(M)), op("-", sub(M), sub(M)), op("*", sub(M), sub(N)),
                    op("*", sub(N), sub(M)), op("/", sub(M), divisor(N, depth - 1)),
                    st.tuples(st.just("neg"), sub(M)), call("percent", sub(N), sub(M))]
        options += [call(name, sub(M)) for name in ROUNDINGS]
    elif kind is D:
        durations = st.one_of(*(call(unit, COUNTS) for unit in
                                ("days", "months", "years", "business_days")))
        options += [op(symbol, sub(D), durations) for symbol in "+-"]
    else:
        options += [op(symbol, sub(k), sub(k)) for symbol in CMP for k in (N, M, D)]
        options += [op(symbol, sub(B), sub(B)) for symbol in ("==", "!=", "and", "or")]
        options += [st.tuples(st.just("not"), sub(B)),
                    op("==", st.just(("fact", "context.fare")), st.sampled_from(
                        [("lit", T, "short"), ("lit", T, "long")]))]
    return st.one_of(options)


def literal_text(tree):
    kind, item = tree[1], tree[2]
    if kind is T:
        return f'"{item}"'
    if kind is B:
        return "true" if item else "false"
    return item.isoformat() if kind is D else format(item, "f")


def full_text(tree) -> str:
    """Every operation in parentheses."""
    match tree:
        case ("lit", *_):
            return literal_text(tree)
        case ("amount", table):
            return "amount(" + ", ".join(f"{table[c]:f} {c}" for c in CURRENCIES) + ")"
        case ("fact", name):
            return name
        case ("neg", x):
            return f"(-{full_text(x)})"
        case ("not", x):
            return f"(not {full_text(x)})"
        case ("op", symbol, left, right):
            return f"({full_text(left)} {symbol} {full_text(right)})"
        case ("call", function, args):
            return f"{function}({', '.join(full_text(a) for a in args)})"


def short_text(tree) -> tuple[str, int]:
    """As few parentheses as precedence allows; with its precedence."""
    match tree:
        case ("neg", x):
            text, prec = short_text(x)
            return "-" + (text if prec >= PREC["neg"] else f"({text})"), PREC["neg"]
        case ("not", x):
            text, prec = short_text(x)
            return "not " + (text if prec >= PREC["not"] else f"({text})"), PREC["not"]
        case ("op", symbol, left, right):
            mine = PREC[symbol]
            (lt, lp), (rt, rp) = short_text(left), short_text(right)
            if lp < mine or (symbol in CMP and lp == mine):
                lt = f"({lt})"
            if rp <= mine:
                rt = f"({rt})"
            return f"{lt} {symbol} {rt}", mine
        case ("call", function, args):
            return f"{function}({', '.join(short_text(a)[0] for a in args)})", 9
    return full_text(tree), 9


def reference(tree, facts, currency, holidays):
    """The meaning of a tree, computed directly from the brief."""
    def of(t):
        return reference(t, facts, currency, holidays)

    match tree:
        case ("lit", _, item):
            return item
        case ("amount", table):
            return table[currency]
        case ("fact", name):
            item = facts.get(name)
            return Decimal(item) if type(item) is int else item
        case ("neg", x):
            item = of(x)
            return None if item is None else -item
        case ("not", x):
            item = of(x)
            return None if item is None else not item
        case ("op", symbol, left, right):
            a, b = of(left), of(right)
            if symbol == "and" and (a is False or b is False):
                return False  # three-valued: settled whatever the unknown side is
            if symbol == "or" and (a is True or b is True):
                return True
            if a is None or b is None:
                return None
            if symbol in CMP:
                return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
                        "!=": a != b}[symbol]
            if symbol in ("and", "or"):
                return (a and b) if symbol == "and" else (a or b)
            if isinstance(a, date) and isinstance(b, date):
                return Decimal((a - b).days)
            if isinstance(a, date):
                unit, count = b
                count = count if symbol == "+" else -count
                if unit == "days":
                    return a + timedelta(days=count)
                if unit == "business_days":
                    return brute_business_days(a, count, holidays)
                months = count * (12 if unit == "years" else 1)
                year, month = a.year + (a.month - 1 + months) // 12, (a.month - 1 + months) % 12
                return date(year, month + 1,
                            min(a.day, calendar.monthrange(year, month + 1)[1]))
            if symbol == "/":
                return None if b == 0 else a / b
            return {"+": a + b, "-": a - b, "*": a * b}[symbol]
        case ("call", "if", (condition, yes, no)):
            chosen = of(condition)
            return None if chosen is None else of(yes if chosen else no)
        case ("call", function, args):
            items = [of(a) for a in args]
            if None in items:
                return None
            if function == "min":
                return min(items)
            if function == "max":
                return max(items)
            if function == "percent":
                return items[1] * items[0] / 100
            if function in ROUNDINGS:
                money = infer(args[0]) is M
                step = Decimal(1) if not money or currency == "JPY" else Decimal("0.01")
                return items[0].quantize(step, rounding=ROUNDINGS[function])
            return function, int(items[0])  # a duration; counts are whole here


def infer(tree):
    match tree:
        case ("lit", kind, _):
            return kind
        case ("amount", _):
            return M
        case ("fact", name):
            return TYPES[name]
        case ("neg", x):
            return infer(x)
        case ("not", _):
            return B
        case ("op", symbol, left, right):
            if symbol in (*CMP, "and", "or"):
                return B
            kinds = (infer(left), infer(right))
            if kinds == (D, D) or (kinds == (M, M) and symbol == "/"):
                return N
            return D if D in kinds else M if M in kinds else N
        case ("call", "if", args):
            return infer(args[1])
        case ("call", _, args):
            return infer(args[-1])


FACT_VALUES = st.fixed_dictionaries({
    "order.value": st.decimals(0, 10000, places=2),
    "order.shipping_fee": st.none() | st.decimals(0, 50, places=2),
    "customer.prior_failures": st.integers(0, 10),
    "failure.severity": st.integers(1, 5),
    "failure.occurred_on": st.none() | st.dates(FIRST, LAST),
    "context.rate": st.none() | st.decimals(0, 5, places=1),
    "context.flag": st.none() | st.booleans(),
    "context.fare": st.none() | st.sampled_from(["short", "long"]),
    "context.deadline": st.dates(FIRST, LAST),
})


@settings(max_examples=examples(200))
@given(data=st.data())
def test_printed_trees_evaluate_like_the_reference(data):
    kind = data.draw(st.sampled_from([N, M, D, B]))
    tree = data.draw(trees(kind, 3))
    facts = data.draw(FACT_VALUES)
    currency = data.draw(st.sampled_from(CURRENCIES))
    holidays = data.draw(st.frozensets(st.dates(date(1999, 1, 1), date(2002, 12, 31)),
                                       max_size=30))
    full, short = full_text(tree), short_text(tree)[0]
    assume(len(full) <= 1000)
    with localcontext(REFERENCE):
        expected = reference(tree, facts, currency, holidays)
    for text in (full, short):
        expression = compile_expression(text, TYPES, CURRENCIES, kind, choices=CHOICES)
        assert expression.type is kind
        assert expression.names == {t[1] for t in walk(tree) if t[0] == "fact"}
        result = expression.evaluate(facts, currency, holidays)
        assert (type(result), result) == (type(expected), expected), text


def walk(tree):
    yield tree
    if tree[0] in ("neg", "not"):
        yield from walk(tree[1])
    elif tree[0] == "op":
        yield from walk(tree[2])
        yield from walk(tree[3])
    elif tree[0] == "call":
        for arg in tree[2]:
            yield from walk(arg)


WHOLE = ("customer.prior_failures", "failure.severity")  # integer facts; context.rate is not


@pytest.mark.parametrize("text", [
    "customer.prior_failures * 2 + failure.severity - 1",
    "-customer.prior_failures",
    "context.deadline - failure.occurred_on",  # days between two dates
    "(context.deadline - failure.occurred_on) * 2",
    "min(failure.severity, 3)",
    "if(context.flag, customer.prior_failures, 4)",
    "round(context.rate / 3)",
    "round_down(percent(20, customer.prior_failures))",
    "round_up(order.value / 7 EUR)",
    "2.0 * failure.severity",  # 2.0 is whole
])
def test_a_number_that_is_always_whole(text):
    from service.policy.expressions import not_always_whole

    assert not_always_whole(compiled(text), WHOLE) is None


@pytest.mark.parametrize(("text", "column", "why"), [
    ("customer.prior_failures / 2", 25, "a division may not come out whole"),
    ("failure.severity * 1.5", 20, "1.5 is not a whole number"),
    ("context.rate + 1", 1, "context.rate is a decimal"),
    ("percent(20, failure.severity)", 1, "a percent may not come out whole"),
    ("if(context.flag, 1, failure.severity / 2)", 38, "a division may not come out whole"),
    ("max(1, context.rate)", 8, "context.rate is a decimal"),
    ("order.value / 10 EUR", 13, "a division may not come out whole"),
    ("(context.deadline - failure.occurred_on) / 7", 42, "a division may not come out whole"),
    ("round(context.rate) * context.rate", 23, "context.rate is a decimal"),
])
def test_a_number_that_may_not_be_whole_says_where_and_why(text, column, why):
    from service.policy.expressions import not_always_whole

    assert not_always_whole(compiled(text), WHOLE) == (column, why)
