"""Expressions in rule files: a small, checked language that computes a remedy's value or cap,
or a derived fact, from the incident's facts.

For policy owners
=================
An expression is a formula such as

    min(percent(20, order.value), amount(50 EUR, 45 GBP, 55 USD))
    if(customer.prior_failures >= 3, percent(30, order.value), percent(15, order.value))
    failure.occurred_on + business_days(5)

It is checked when the policy is loaded: a misspelt fact, values of the wrong kind or a
missing currency is reported with the column where it is, and the policy is refused.

Values
------
- Numbers: `250`, `12.5`. No sign (write `-5`), no exponent, no digit separators; at most 15
  digits before the point and 10 after.
- Money: a number then a three-letter currency code, `250 EUR`. In a policy of several
  currencies write `amount(250 EUR, 220 GBP, 300 USD)`, naming every currency of the policy
  once: the order's currency picks the amount. A bare `250 EUR` is allowed only in a policy
  whose one currency is EUR. An amount has at most the currency's decimal places.
- Dates: `2024-06-01`, always year-month-day with four, two and two digits. (So `10-2-3`
  without spaces is taken for a date and refused: to subtract, write `10 - 2 - 3`.)
- `true` and `false`.
- Text in double quotes, `"short"`, to compare with a text or choice fact. No escapes.
- Facts by their dotted names, in lower case: `order.value`, `customer.prior_failures`,
  `failure.occurred_on`, `context.fare`.

Operators, loosest first
------------------------
`or`; `and`; `not`; comparisons `<  <=  >  >=  ==  !=`; `+  -`; `*  /`; a minus sign;
parentheses. So `1 + 2 * 3` is 7 and `a or b and c` is `a or (b and c)`. Comparisons do not
chain: write `a < b and b < c`.

Kinds of value
--------------
    money + money, money - money      money
    money * number, number * money    money
    money / number                    money
    money / money                     a number (a ratio)
    number + - * / number             a number
    date + duration, date - duration  a date
    date - date                       the number of days from the second to the first
Anything else is refused: `order.value + 5` (write `5 EUR`), `date + 3` (write `days(3)`).
A minus sign goes before a number or money. Comparisons need one kind on both sides (money
with money); `<  <=  >  >=` compare numbers, money and dates; `==` and `!=` also true/false
values and text. `and`, `or` and `not` take true/false values.

Functions
---------
    if(condition, a, b)        a when the condition is true, else b; a and b of one kind
    min(a, b, ...)             the smallest of two or more numbers, amounts or dates
    max(a, b, ...)             the largest
    percent(p, x)              x * p / 100, for x money or a number
    round(x)                   money to the currency's smallest unit (cents; whole yen), a
                               number to a whole number; halves go away from zero
                               (2.345 EUR is 2.35 EUR, -2.5 is -3)
    round_down(x)              the same but always down (toward minus infinity)
    round_up(x)                the same but always up
    days(n), months(n), years(n), business_days(n)
                               durations to add to or subtract from a date; n whole
    amount(250 EUR, 220 GBP, 300 USD)
                               the amount in the order's currency

Dates
-----
Months and years keep the day of the month, or take the month's last day when it has fewer
days: 2024-01-31 + months(1) is 2024-02-29, 2024-02-29 + years(1) is 2025-02-28.
Business days are Monday to Friday except the policy's holidays. `date + business_days(n)` is
the n-th business day after the date (it need not start on one: a Saturday plus one business
day is the Monday); a negative n counts back the same way; `business_days(0)` is the date
itself if it is a business day, otherwise the next business day.
`date - business_days(n)` is `date + business_days(-n)`, and likewise for the others.

Unknown values
--------------
An optional fact may be missing. It is then *unknown*, and so is whatever is computed from
it: with no shipping fee, `order.value + order.shipping_fee`, `order.shipping_fee > 5 EUR`,
`round(order.shipping_fee)` and `min(order.shipping_fee, 5 EUR)` are all unknown, and so is
`not x` when x is. `and` and `or` settle what they can: `false and unknown` is false, `true
or unknown` is true; `true and unknown` and `false or unknown` are unknown.
`if(condition, a, b)` is unknown when the condition is; otherwise it is a or b, whichever is
chosen (the other is not looked at). Also unknown: anything divided by zero, `days(n)` and
the like when n is not a whole number, and a date before year 1 or after year 9999. A
division by a zero written in the text (`x / 0`, `x / 0 EUR`) is refused by the check.

Money is exact: nothing is rounded unless `round`, `round_down` or `round_up` says so (the
remedy is rounded to the currency's smallest unit in the end). Division keeps 60
significant digits.

Limits: an expression has at most 1,000 characters, and parentheses, function calls, `not`
and minus signs nest at most 32 deep.

For developers
==============
`compile_expression(text, types, currencies, expect)` parses and checks once, at load, and
raises `ExpressionError` (`.message`, `.column`: 1-based in `text`, newlines counting as one
character). The `Expression` it returns is immutable, picklable and has no Python code of the
policy owner's in it: a hand-written tokenizer, a recursive-descent parser, a type checker that
returns a typed tree and a tree-walking evaluator. Nothing here calls eval, exec or the builtin
compile, and nothing imports ast. `Expression.evaluate` never raises for the facts' values
(they give unknown instead); it raises TypeError for a fact of the wrong Python type and
ValueError for a currency outside the policy's, both mistakes of the caller.
"""

from __future__ import annotations

import calendar
import difflib
import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum

from service.domain.money import MINOR_UNITS, quantum

MAX_LENGTH = 1000
MAX_DEPTH = 32
MAX_WHOLE_DIGITS = 15
MAX_FRACTION_DIGITS = 10
PRECISION = 60  # significant digits of every computation; money stays exact well within it
_CONTEXT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN,
                   traps=[InvalidOperation, DivisionByZero, Overflow])


class Type(StrEnum):
    """The kind of value an expression or fact has."""

    NUMBER = "number"  # Decimal; whole numbers (counts) are numbers too
    MONEY = "money"  # Decimal in the order's currency
    DATE = "date"
    DURATION = "duration"  # Duration: only to add to or subtract from a date
    BOOLEAN = "boolean"
    TEXT = "text"  # text and choice (enum) facts

    @property
    def described(self) -> str:
        """The kind in words, for messages: "a number", "money", ..."""
        return _DESCRIBED[self]


_DESCRIBED = {
    Type.NUMBER: "a number", Type.MONEY: "money", Type.DATE: "a date",
    Type.DURATION: "a duration", Type.BOOLEAN: "a true/false value", Type.TEXT: "text",
}

# How the fact types of a policy (service.domain.fields) map to expression types. A decimal
# whose unit is "order currency" (order.value, order.shipping_fee, ...) is money.
FIELD_TYPES: dict[str, Type] = {
    "integer": Type.NUMBER, "decimal": Type.NUMBER, "boolean": Type.BOOLEAN,
    "string": Type.TEXT, "enum": Type.TEXT, "date": Type.DATE, "money": Type.MONEY,
}


def fact_type(kind: str, unit: str | None = None) -> Type:
    """The expression type of a fact of field type `kind` ("integer", "decimal", ...)."""
    if kind == "decimal" and unit == "order currency":
        return Type.MONEY
    return FIELD_TYPES[kind]


class ExpressionError(ValueError):
    """An expression that cannot be read or does not make sense, with where: `column` is
    1-based in the expression's text."""

    def __init__(self, message: str, column: int):
        self.message = message
        self.column = column
        super().__init__(f"at column {column}: {message}")


@dataclass(frozen=True)
class Duration:
    """A length of time to move a date by: unit is days, months, years or business_days."""

    unit: str
    count: int

    def __str__(self) -> str:
        return f"{self.unit}({self.count})"


Value = Decimal | date | bool | str | Duration


# ---- the typed tree ------------------------------------------------------------------------
# The parser builds these with type None; the checker returns copies with every type set.
# Operators of one level (a + b - c, a and b and c) make one flat _Chain, not a deep tree: the
# tree is as deep as the nesting (at most 32), so nothing walking it recurses far.

@dataclass(frozen=True)
class _Literal:
    column: int
    value: Decimal | date | bool | str
    type: Type


@dataclass(frozen=True)
class _Money:  # 250 EUR
    column: int
    amount: Decimal
    currency: str
    type: Type = Type.MONEY


@dataclass(frozen=True)
class _Amounts:  # amount(250 EUR, 220 GBP), checked
    column: int
    amounts: tuple[tuple[str, Decimal], ...]
    type: Type = Type.MONEY


@dataclass(frozen=True)
class _Fact:
    column: int
    name: str
    type: Type | None = None


@dataclass(frozen=True)
class _Unary:
    column: int
    op: str  # "-" or "not"
    operand: _Node
    type: Type | None = None


@dataclass(frozen=True)
class _Compare:
    column: int  # of the operator
    op: str
    left: _Node
    right: _Node
    type: Type | None = None


@dataclass(frozen=True)
class _Step:
    column: int  # of the operator
    op: str
    operand: _Node
    type: Type | None = None  # of the chain up to and including this step


@dataclass(frozen=True)
class _Chain:  # first op operand op operand ..., left to right: + -, * /, and, or
    column: int  # of the first operand
    first: _Node
    steps: tuple[_Step, ...]
    type: Type | None = None


@dataclass(frozen=True)
class _Call:
    column: int  # of the function's name
    function: str
    args: tuple[_Node, ...]
    type: Type | None = None


_Node = _Literal | _Money | _Amounts | _Fact | _Unary | _Compare | _Chain | _Call


# ---- the API ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expression:
    """A parsed and checked expression. `names` are the facts it reads (for ordering derived
    facts and finding cycles); `currencies` the policy's, one of which `evaluate` needs."""

    text: str
    type: Type
    names: frozenset[str]
    currencies: tuple[str, ...]
    tree: _Node = field(repr=False, compare=False)

    def evaluate(self, facts: Mapping[str, object], currency: str,
                 holidays: Collection[date] = frozenset()) -> Value | None:
        """The value for these facts (by dotted name; absent or None: unknown) in an order of
        `currency`, or None when unknown. Money comes back unrounded (as exact as Decimal),
        numbers as Decimal, durations as Duration."""
        if currency not in self.currencies:
            raise ValueError(f"{currency} is not a currency of this policy "
                             f"({', '.join(self.currencies)})")
        with localcontext(_CONTEXT):
            return _value(self.tree, _Env(facts, currency, frozenset(holidays)))

    def __str__(self) -> str:
        return self.text


def compile_expression(
    text: str,
    types: Mapping[str, Type | str],
    currencies: tuple[str, ...],
    expect: Type | None = None,
    *,
    choices: Mapping[str, Collection[str]] | None = None,
    what: str = "the expression",
    strict: bool = True,
) -> Expression:
    """Parse and check `text` against the facts' `types` (dotted name -> Type) and the
    policy's `currencies`. `expect` is the type the caller needs, reported as "{what} must be
    money, this is a date". `choices` optionally gives the allowed values of choice (enum)
    facts, so that `context.fare == "shrot"` is refused. `strict=False` leaves out checks
added after a version could be activated without them (a division by a written zero), so
that such a version still loads. Raises ExpressionError."""
    if not isinstance(text, str):
        raise TypeError(f"an expression is text, not {type(text).__name__}")
    for code in currencies:
        if code not in MINOR_UNITS:
            raise ValueError(f"unknown currency {code!r}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression has at most {MAX_LENGTH:,} characters; this "
                              f"one has {len(text):,}", MAX_LENGTH + 1)
    tree = _Parser(_tokenize(text)).parse()
    checker = _Checker({name: Type(kind) for name, kind in types.items()}, tuple(currencies),
                       choices or {}, strict)
    tree = checker.check(tree)
    if expect is not None and tree.type is not Type(expect):
        hint = ""
        if Type(expect) is Type.MONEY and tree.type is Type.NUMBER:
            hint = f"; write an amount such as {_money_example(currencies, '250')}"
        raise ExpressionError(f"{what} must be {Type(expect).described}, this is "
                              f"{tree.type.described}{hint}", 1)
    return Expression(text, tree.type, frozenset(checker.names), tuple(currencies), tree)


# ---- tokens ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # number date text word name currency op end
    text: str
    column: int
    value: object = None


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9])")
_DASHED = re.compile(r"[0-9]+-[0-9]+-[0-9]+")
_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")
_CURRENCY = re.compile(r"[A-Z]{3}")
_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ",")
_MISTAKES = {
    "&&": "write `and`", "||": "write `or`", "&": "write `and`", "|": "write `or`",
    "=": "write `==` to compare", "!": "write `not`", "<>": "write `!=`",
    "%": "write percent(p, x) for p percent of x", "'": "put text in double quotes",
    "^": "there is no power operator; multiply", "[": "use parentheses", "{": "use parentheses",
}
_SPACE = " \t\r\n"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while True:
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if i == len(text):
            tokens.append(_Token("end", "", i + 1))
            return tokens
        column, char = i + 1, text[i]
        if char.isascii() and char.isdigit():
            token, i = _number_or_date(text, i)
        elif char.isascii() and (char.isalpha() or char == "_"):
            token, i = _word(text, i)
        elif char == '"':
            end = i + 1
            while end < len(text) and text[end] not in '"\n\\':
                end += 1
            if end == len(text) or text[end] == "\n":
                raise ExpressionError('this text has no closing `"`', column)
            if text[end] == "\\":
                raise ExpressionError("text in quotes has no escapes (`\\`)", end + 1)
            token, i = _Token("text", text[i:end + 1], column, text[i + 1:end]), end + 1
        else:
            for symbol in (text[i:i + 2], char):
                if symbol in _OPERATORS:
                    token, i = _Token("op", symbol, column), i + len(symbol)
                    break
                if symbol in _MISTAKES:
                    raise ExpressionError(f"`{symbol}` is not part of the language: "
                                          f"{_MISTAKES[symbol]}", column)
            else:
                if char == ".":
                    raise ExpressionError("a number starts with a digit: write 0.5, not .5",
                                          column)
                raise ExpressionError(f"unexpected character `{char}`", column)
        tokens.append(token)


def _number_or_date(text: str, i: int) -> tuple[_Token, int]:
    column = i + 1
    if _DASHED.match(text, i):
        found = _DATE.match(text, i)
        if not found:
            raise ExpressionError("write a date as year-month-day, such as 2024-06-01 (to "
                                  "subtract, put spaces around `-`)", column)
        try:
            day = date(*(int(part) for part in found.groups()))
        except ValueError:
            raise ExpressionError(f"{found.group()} is not a date", column) from None
        return _Token("date", found.group(), column, day), found.end()
    found = _NUMBER.match(text, i)
    whole, fraction = found.group(1), found.group(2) or ""
    end = found.end()
    if end < len(text) and text[end] == ".":
        raise ExpressionError("a number has digits after its point: write 12.0 or 12",
                              end + 1)
    if end < len(text) and (text[end].islower() or text[end] == "_"):
        raise ExpressionError(f"put a space or an operator between the number {found.group()} "
                              f"and what follows it", end + 1)
    if len(whole) > MAX_WHOLE_DIGITS or len(fraction) > MAX_FRACTION_DIGITS:
        raise ExpressionError(f"a number has at most {MAX_WHOLE_DIGITS} digits before its "
                              f"point and {MAX_FRACTION_DIGITS} after", column)
    return _Token("number", found.group(), column, Decimal(found.group())), end


def _word(text: str, i: int) -> tuple[_Token, int]:
    column = i + 1
    found = _WORD.match(text, i)
    word, end = found.group(), found.end()
    if end < len(text) and text[end] == ".":
        raise ExpressionError(f"`{text[i:end + 1]}`: a name does not end with a dot, and each "
                              "part of a name starts with a letter", column)
    shouting = word.lower() in _KEYWORDS or word.lower() in _FUNCTIONS  # AND, NOT, MIN
    if _CURRENCY.fullmatch(word) and not shouting:
        return _Token("currency", word, column), end
    if not _NAME.fullmatch(word):
        raise ExpressionError(f"`{word}`: write names and words in lower case "
                              f"(`{word.lower()}`)", column)
    return _Token("word" if word in _KEYWORDS else "name", word, column), end


# ---- parsing -----------------------------------------------------------------------------------

_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


class _Parser:
    """Recursive descent, loosest first:
        expression := or
        or         := and ("or" and)*
        and        := not ("and" not)*
        not        := "not" not | comparison
        comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
        sum        := product (("+" | "-") product)*
        product    := unary (("*" | "/") unary)*
        unary      := "-" unary | primary
        primary    := number [currency] | date | text | "true" | "false"
                    | name ["(" [expression ("," expression)*] ")"] | "(" expression ")"
    """

    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise ExpressionError("the expression is empty", 1)
        node = self.or_()
        token = self.peek()
        if token.kind != "end":
            if token.text == ")":
                raise ExpressionError("this `)` has no `(` before it", token.column)
            raise ExpressionError(f"expected an operator or the end before `{token.text}`",
                                  token.column)
        return node

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_(self, kind: str, *texts: str) -> bool:
        token = self.peek()
        return token.kind == kind and (not texts or token.text in texts)

    def enter(self, column: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests more than {MAX_DEPTH} deep", column)

    def chain(self, kind: str, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        first = operand()
        steps = []
        while self.is_(kind, *ops):
            token = self.take()
            steps.append(_Step(token.column, token.text, operand()))
        return _Chain(first.column, first, tuple(steps)) if steps else first

    def or_(self) -> _Node:
        return self.chain("word", ("or",), self.and_)

    def and_(self) -> _Node:
        return self.chain("word", ("and",), self.not_)

    def not_(self) -> _Node:
        if not self.is_("word", "not"):
            return self.comparison()
        token = self.take()
        self.enter(token.column)
        node = _Unary(token.column, "not", self.not_())
        self.depth -= 1
        return node

    def comparison(self) -> _Node:
        node = self.sum()
        if self.is_("op", *_COMPARISONS):
            token = self.take()
            node = _Compare(token.column, token.text, node, self.sum())
            if self.is_("op", *_COMPARISONS):
                raise ExpressionError("comparisons do not chain: write `a < b and b < c`",
                                      self.peek().column)
        return node

    def sum(self) -> _Node:
        return self.chain("op", ("+", "-"), self.product)

    def product(self) -> _Node:
        return self.chain("op", ("*", "/"), self.unary)

    def unary(self) -> _Node:
        if not self.is_("op", "-"):
            return self.primary()
        token = self.take()
        self.enter(token.column)
        node = _Unary(token.column, "-", self.unary())
        self.depth -= 1
        return node

    def primary(self) -> _Node:
        token = self.take()
        if token.kind == "number":
            if self.is_("currency"):
                code = self.take()
                return _Money(token.column, token.value, code.text)
            return _Literal(token.column, token.value, Type.NUMBER)
        if token.kind == "date":
            return _Literal(token.column, token.value, Type.DATE)
        if token.kind == "text":
            return _Literal(token.column, token.value, Type.TEXT)
        if token.kind == "word" and token.text in ("true", "false"):
            return _Literal(token.column, token.text == "true", Type.BOOLEAN)
        if token.kind == "name":
            return self.call(token) if self.is_("op", "(") else _Fact(token.column, token.text)
        if token.text == "(":
            self.enter(token.column)
            node = self.or_()
            self.close(token, "the `(` at column {column} is not closed")
            self.depth -= 1
            return node
        self.at -= 1
        if token.kind == "currency":
            raise ExpressionError(f"a currency code follows its amount, as in `250 "
                                  f"{token.text}`", token.column)
        if token.text == "not":
            raise ExpressionError("put `not ...` in parentheses here", token.column)
        if token.kind == "end":
            raise ExpressionError("the expression ends where a value was expected",
                                  token.column)
        raise ExpressionError(f"expected a value before `{token.text}`", token.column)

    def call(self, name: _Token) -> _Call:
        self.enter(name.column)
        self.take()  # (
        args = []
        if not self.is_("op", ")"):
            args.append(self.or_())
            while self.is_("op", ","):
                self.take()
                args.append(self.or_())
        self.close(name, f"expected `,` or `)` in {name.text}(...) begun at column "
                         "{column}")
        self.depth -= 1
        return _Call(name.column, name.text, tuple(args))

    def close(self, opening: _Token, message: str) -> None:
        if not self.is_("op", ")"):
            raise ExpressionError(message.format(column=opening.column), self.peek().column)
        self.take()


# ---- checking ----------------------------------------------------------------------------------

_FUNCTIONS: dict[str, tuple[int, int | None, str]] = {  # least and most arguments, how written
    "if": (3, 3, "if(condition, value if true, value if false)"),
    "min": (2, None, "min(a, b, ...)"),
    "max": (2, None, "max(a, b, ...)"),
    "percent": (2, 2, "percent(p, x)"),
    "round": (1, 1, "round(x)"),
    "round_down": (1, 1, "round_down(x)"),
    "round_up": (1, 1, "round_up(x)"),
    "days": (1, 1, "days(n)"),
    "months": (1, 1, "months(n)"),
    "years": (1, 1, "years(n)"),
    "business_days": (1, 1, "business_days(n)"),
    "amount": (0, None, "amount(250 EUR, 220 GBP, ...)"),  # none: says which are missing
}
_DURATIONS = ("days", "months", "years", "business_days")
_ROUNDINGS = {"round": ROUND_HALF_UP, "round_down": ROUND_FLOOR, "round_up": ROUND_CEILING}
_N, _M, _D, _P = Type.NUMBER, Type.MONEY, Type.DATE, Type.DURATION
_ARITHMETIC: dict[tuple[str, Type, Type], Type] = {
    ("+", _M, _M): _M, ("-", _M, _M): _M, ("*", _M, _N): _M, ("*", _N, _M): _M,
    ("/", _M, _N): _M, ("/", _M, _M): _N,
    **{(op, _N, _N): _N for op in "+-*/"},
    ("+", _D, _P): _D, ("-", _D, _P): _D, ("-", _D, _D): _N,
}
_ORDERED = (Type.NUMBER, Type.MONEY, Type.DATE)


def _written_zero(node: _Node) -> bool:
    """A zero the text itself writes (`0`, `-0`, `0 EUR`, `amount(0 EUR, 0 GBP)`)."""
    while isinstance(node, _Unary) and node.op == "-":
        node = node.operand
    match node:
        case _Literal(value=Decimal() as value):
            return value == 0
        case _Money(amount=amount):
            return amount == 0
        case _Amounts(amounts=amounts):
            return all(amount == 0 for _, amount in amounts)
    return False


def _money_example(currencies: tuple[str, ...], number: str) -> str:
    if len(currencies) == 1:
        return f"`{number} {currencies[0]}`"
    return f"`amount({', '.join(f'{number} {code}' for code in currencies)})`"


class _Checker:
    def __init__(self, types: dict[str, Type], currencies: tuple[str, ...],
                 choices: Mapping[str, Collection[str]], strict: bool = True):
        self.types = types
        self.strict = strict
        self.currencies = currencies
        self.choices = choices
        self.names: set[str] = set()

    def check(self, node: _Node) -> _Node:
        match node:
            case _Literal():
                return node
            case _Money():
                self.bare_money(node)
                return node
            case _Fact():
                return replace(node, type=self.fact(node))
            case _Unary():
                return self.unary(node)
            case _Compare():
                return self.comparison(node)
            case _Chain():
                return self.chain(node)
            case _Call():
                return self.call(node)
        raise AssertionError(node)  # pragma: no cover

    def fact(self, node: _Fact) -> Type:
        if node.name in self.types:
            self.names.add(node.name)
            return self.types[node.name]
        if node.name in _FUNCTIONS:
            raise ExpressionError(f"`{node.name}` is a function: write "
                                  f"{_FUNCTIONS[node.name][2]}", node.column)
        close = difflib.get_close_matches(node.name, list(self.types), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise ExpressionError(f"`{node.name}` is not a fact{hint}", node.column)

    def bare_money(self, node: _Money) -> None:
        self.money_literal(node)
        if len(self.currencies) > 1:
            raise ExpressionError(
                f"this policy has several currencies ({', '.join(self.currencies)}): write "
                f"the amount in each, as {_money_example(self.currencies, str(node.amount))}",
                node.column)
        if node.currency not in self.currencies:
            raise ExpressionError(f"this policy's currency is "
                                  f"{', '.join(self.currencies) or 'not set'}, not "
                                  f"{node.currency}", node.column)

    @staticmethod
    def money_literal(node: _Money) -> None:
        if node.currency not in MINOR_UNITS:
            raise ExpressionError(f"{node.currency} is not a currency Amends knows",
                                  node.column)
        places = MINOR_UNITS[node.currency]
        if node.amount != node.amount.quantize(quantum(node.currency)):
            raise ExpressionError(f"{node.currency} amounts have {places} decimal places at "
                                  f"most: {node.amount} {node.currency}", node.column)

    def unary(self, node: _Unary) -> _Unary:
        operand = self.check(node.operand)
        if node.op == "not":
            if operand.type is not Type.BOOLEAN:
                raise ExpressionError(f"`not` needs a true/false value, not "
                                      f"{operand.type.described}", operand.column)
            kind = Type.BOOLEAN
        else:
            if operand.type not in (Type.NUMBER, Type.MONEY):
                raise ExpressionError(f"a minus sign goes before a number or money, not "
                                      f"{operand.type.described}", node.column)
            kind = operand.type
        return replace(node, operand=operand, type=kind)

    def chain(self, node: _Chain) -> _Chain:
        first = self.check(node.first)
        kind = first.type
        steps = []
        for step in node.steps:
            right = self.check(step.operand)
            if step.op in ("and", "or"):
                for side, side_kind in ((node.first, kind), (right, right.type)):
                    if side_kind is not Type.BOOLEAN:
                        raise ExpressionError(f"`{step.op}` needs true/false values on both "
                                              f"sides, not {side_kind.described}", side.column)
                result = Type.BOOLEAN
            else:
                result = _ARITHMETIC.get((step.op, kind, right.type))
            if result is None:
                a, b = kind.described, right.type.described
                message = {"+": f"cannot add {a} and {b}", "-": f"cannot subtract {b} from {a}",
                           "*": f"cannot multiply {a} by {b}",
                           "/": f"cannot divide {a} by {b}"}[step.op]
                raise ExpressionError(message + self.hint(step.op, kind, right.type),
                                      step.column)
            if self.strict and step.op == "/" and _written_zero(right):
                raise ExpressionError("dividing by zero gives no value: the expression would "
                                      "always be unknown", step.column)
            steps.append(replace(step, operand=right, type=result))
            kind = result
        return replace(node, first=first, steps=tuple(steps), type=kind)

    def hint(self, op: str, left: Type, right: Type) -> str:
        pair = {left, right}
        if pair == {Type.MONEY, Type.NUMBER} and op in ("+", "-", *_COMPARISONS):
            return f"; write the number as money, such as {_money_example(self.currencies, '5')}"
        if left is Type.DATE and right is Type.NUMBER and op in "+-":
            return "; write a duration such as days(3)"
        if left is Type.DURATION and right is Type.DATE and op == "+":
            return "; write the date first: date + duration"
        if left is Type.DATE and right is Type.DATE and op == "+":
            return "; date - date is the number of days between them"
        return ""

    def comparison(self, node: _Compare) -> _Compare:
        left, right = self.check(node.left), self.check(node.right)
        if left.type is not right.type:
            raise ExpressionError(f"cannot compare {left.type.described} with "
                                  f"{right.type.described}"
                                  + self.hint(node.op, left.type, right.type), node.column)
        if left.type is Type.DURATION:
            raise ExpressionError("durations cannot be compared (is months(1) more than "
                                  "days(30)?): compare the dates they lead to", node.column)
        if node.op not in ("==", "!=") and left.type not in _ORDERED:
            raise ExpressionError(f"`{node.op}` compares numbers, money and dates; "
                                  f"{left.type.described} only with == and !=", node.column)
        for fact, literal in ((left, right), (right, left)):
            if (isinstance(fact, _Fact) and isinstance(literal, _Literal)
                    and fact.name in self.choices and literal.type is Type.TEXT
                    and literal.value not in self.choices[fact.name]):
                allowed = list(self.choices[fact.name])
                close = difflib.get_close_matches(literal.value, allowed, n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                raise ExpressionError(f'"{literal.value}" is not a value of `{fact.name}` '
                                      f"({', '.join(allowed)}){hint}", literal.column)
        return replace(node, left=left, right=right, type=Type.BOOLEAN)

    def call(self, node: _Call) -> _Node:
        if node.function not in _FUNCTIONS:
            close = difflib.get_close_matches(node.function, list(_FUNCTIONS), n=1)
            hint = f"; did you mean {close[0]}(...)?" if close else ""
            raise ExpressionError(f"`{node.function}` is not a function{hint}", node.column)
        least, most, written = _FUNCTIONS[node.function]
        count = len(node.args)
        if count < least or (most is not None and count > most):
            wanted = (f"{least}" if least == most else f"at least {least}")
            raise ExpressionError(f"{node.function}(...) takes {wanted} "
                                  f"argument{'s' if least > 1 or most is None else ''}, "
                                  f"not {count}: {written}", node.column)
        if node.function == "amount":
            return self.amounts(node)
        args = tuple(self.check(arg) for arg in node.args)
        kinds = [arg.type for arg in args]
        name = node.function

        def need(arg: _Node, allowed: tuple[Type, ...], what: str) -> None:
            if arg.type not in allowed:
                raise ExpressionError(f"{what} of {name}(...) must be "
                                      f"{' or '.join(kind.described for kind in allowed)}, "
                                      f"not {arg.type.described}", arg.column)

        if name == "if":
            need(args[0], (Type.BOOLEAN,), "the condition")
            if kinds[1] is not kinds[2]:
                raise ExpressionError(f"both results of if(...) must be of one kind, not "
                                      f"{kinds[1].described} and {kinds[2].described}",
                                      args[2].column)
            kind = kinds[1]
        elif name in ("min", "max"):
            need(args[0], _ORDERED, "the first value")
            for arg in args[1:]:
                if arg.type is not kinds[0]:
                    raise ExpressionError(f"the values of {name}(...) must be of one kind, "
                                          f"not {kinds[0].described} and "
                                          f"{arg.type.described}", arg.column)
            kind = kinds[0]
        elif name == "percent":
            need(args[0], (Type.NUMBER,), "the percentage (first value)")
            need(args[1], (Type.MONEY, Type.NUMBER), "the second value")
            kind = kinds[1]
        elif name in _ROUNDINGS:
            need(args[0], (Type.MONEY, Type.NUMBER), "the value")
            kind = kinds[0]
        else:  # a duration
            need(args[0], (Type.NUMBER,), "the count")
            constant = _constant(args[0])
            if constant is not None and constant != constant.to_integral_value():
                raise ExpressionError(f"{name}(...) counts whole {name.replace('_', ' ')}, "
                                      f"not {constant}", args[0].column)
            kind = Type.DURATION
        return replace(node, args=args, type=kind)

    def amounts(self, node: _Call) -> _Amounts:
        seen: dict[str, Decimal] = {}
        for arg in node.args:
            if not isinstance(arg, _Money):
                raise ExpressionError("each part of amount(...) is an amount of one currency, "
                                      "such as `250 EUR`", arg.column)
            self.money_literal(arg)
            if arg.currency not in self.currencies:
                raise ExpressionError(f"{arg.currency} is not a currency of this policy "
                                      f"({', '.join(self.currencies)})", arg.column)
            if arg.currency in seen:
                raise ExpressionError(f"amount(...) names {arg.currency} twice", arg.column)
            seen[arg.currency] = arg.amount
        missing = [code for code in self.currencies if code not in seen]
        if missing:
            raise ExpressionError(f"amount(...) must name every currency of the policy once: "
                                  f"missing {', '.join(missing)}", node.column)
        return _Amounts(node.column, tuple(seen.items()))


def not_always_whole(expression: Expression, whole: Collection[str]) -> tuple[int, str] | None:
    """Where a number `expression` may come to a value that is not whole, and why (1-based
    column, words), for a fact declared `integer`; None when it is always whole: whole
    numbers written, facts named in `whole` (integer facts), and what + - * of them, -,
    `date - date`, min, max, if and round, round_down, round_up make of them. A division,
    `percent`, a number with a fraction or any other fact may not be whole."""
    return _not_whole(expression.tree, frozenset(whole))


def _not_whole(node: _Node, whole: frozenset[str]) -> tuple[int, str] | None:
    match node:
        case _Literal():
            if node.type is Type.NUMBER and node.value != node.value.to_integral_value():
                return node.column, f"{node.value} is not a whole number"
            return None
        case _Fact():
            if node.type is Type.NUMBER and node.name not in whole:
                return node.column, f"{node.name} is a decimal"
            return None
        case _Unary():
            return _not_whole(node.operand, whole)
        case _Chain():
            found = _not_whole(node.first, whole)
            kind = node.first.type
            for step in node.steps:
                if found is not None:
                    return found
                if step.op == "/":
                    return step.column, "a division may not come out whole"
                if not (kind is Type.DATE and step.type is Type.NUMBER):  # date - date: days
                    found = _not_whole(step.operand, whole)
                kind = step.type
            return found
        case _Call():
            if node.function in _ROUNDINGS or node.type is not Type.NUMBER:
                return None
            if node.function == "percent":
                return node.column, "a percent may not come out whole"
            args = node.args[1:] if node.function == "if" else node.args
            return next((found for found in (_not_whole(arg, whole) for arg in args)
                         if found is not None), None)
    return None  # a comparison, money: not a number


def _constant(node: _Node) -> Decimal | None:
    """The value of a number literal, with its minus signs; None for anything else."""
    if isinstance(node, _Literal) and node.type is Type.NUMBER:
        return node.value
    if isinstance(node, _Unary) and node.op == "-":
        inner = _constant(node.operand)
        return None if inner is None else -inner
    return None


# ---- evaluation --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Env:
    facts: Mapping[str, object]
    currency: str
    holidays: frozenset[date]


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
            "==": operator.eq, "!=": operator.ne}


def _value(node: _Node, env: _Env) -> Value | None:
    match node:
        case _Literal():
            return node.value
        case _Money():
            return node.amount  # the checker allowed it: the policy's only currency
        case _Amounts():
            return dict(node.amounts)[env.currency]
        case _Fact():
            return _fact(env.facts.get(node.name), node)
        case _Unary():
            operand = _value(node.operand, env)
            if operand is None:
                return None
            return (not operand) if node.op == "not" else -operand
        case _Compare():
            left, right = _value(node.left, env), _value(node.right, env)
            if left is None or right is None:
                return None
            return _COMPARE[node.op](left, right)
        case _Chain():
            return _chain(node, env)
        case _Call():
            return _call(node, env)
    raise AssertionError(node)  # pragma: no cover


def _fact(value: object, node: _Fact) -> Value | None:
    if value is None:
        return None
    kind = node.type
    if kind in (Type.NUMBER, Type.MONEY):
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        if isinstance(value, Decimal) and value.is_finite():
            return value
    elif kind is Type.DATE:
        if type(value) is date:
            return value
    elif kind is Type.BOOLEAN:
        if isinstance(value, bool):
            return value
    elif kind is Type.TEXT:
        if isinstance(value, str):
            return value
    elif isinstance(value, Duration):
        return value
    raise TypeError(f"fact {node.name} should be {kind.described}, not {value!r}")


def _chain(node: _Chain, env: _Env) -> Value | None:
    value, kind = _value(node.first, env), node.first.type
    for step in node.steps:  # every operand is looked at, even after an unknown one
        right = _value(step.operand, env)
        if step.op in ("and", "or"):  # three-valued: false and unknown is false
            value = _kleene(step.op, value, right)
        elif value is not None and right is not None:
            value = _apply(step.op, value, kind, right, step.operand.type, env)
        else:
            value = None
        kind = step.type
    return value


def _kleene(op: str, left: bool | None, right: bool | None) -> bool | None:
    """`and` and `or` with unknown (None) as SQL has them: false and unknown is false, true or
    unknown is true; otherwise unknown makes unknown."""
    decisive = op == "or"  # the value that settles it whatever the other side is
    if left is decisive or right is decisive:
        return decisive
    if left is None or right is None:
        return None
    return not decisive


def _apply(op: str, left, left_type: Type, right, right_type: Type, env: _Env) -> Value | None:
    if op == "and":
        return left and right
    if op == "or":
        return left or right
    if left_type is Type.DATE:
        if right_type is Type.DATE:
            return Decimal((left - right).days)
        return _shift(left, right, 1 if op == "+" else -1, env.holidays)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return None if right == 0 else left / right


def _call(node: _Call, env: _Env) -> Value | None:
    name = node.function
    if name == "if":
        condition = _value(node.args[0], env)
        if condition is None:
            return None
        return _value(node.args[1] if condition else node.args[2], env)
    args = [_value(arg, env) for arg in node.args]
    if any(arg is None for arg in args):
        return None
    if name == "min":
        return min(args)
    if name == "max":
        return max(args)
    if name == "percent":
        return args[1] * args[0] / 100
    if name in _ROUNDINGS:
        step = quantum(env.currency) if node.type is Type.MONEY else Decimal(1)
        return _quantize(args[0], step, _ROUNDINGS[name])
    count = args[0]  # a duration
    if count != count.to_integral_value():
        return None
    return Duration(name, int(count))


def _quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    # Enough digits for any value: quantize fails rather than round to fewer.
    digits = max(PRECISION, value.adjusted() - step.as_tuple().exponent + 2)
    return value.quantize(step, rounding=rounding, context=Context(prec=digits))


def _shift(day: date, duration: Duration, sign: int, holidays: frozenset[date]) -> date | None:
    """`day` moved by `duration` forward (sign 1) or back (-1); None beyond the calendar."""
    count = duration.count * sign
    try:
        if duration.unit == "days":
            return day + timedelta(days=count)
        if duration.unit == "months":
            return add_months(day, count)
        if duration.unit == "years":
            return add_months(day, 12 * count)
        return add_business_days(day, count, holidays)
    except OverflowError:
        return None


def add_months(day: date, months: int) -> date | None:
    """`day` plus `months` (negative: back), on the last day of the month when it is shorter;
    None outside years 1 to 9999."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        return None
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def is_business_day(day: date, holidays: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_business_days(day: date, count: int, holidays: Collection[date]) -> date:
    """The `count`-th business day after `day` (before it when negative); for 0, `day` if it
    is a business day, else the next. Raises OverflowError beyond the calendar. Steps a week
    of weekdays at a time, then once more for each holiday stepped over, so a large count
    costs no more than a small one."""
    if count == 0:
        return day if is_business_day(day, holidays) else add_business_days(day, 1, holidays)
    workdays = [holiday for holiday in holidays if holiday.weekday() < 5]
    forward = count > 0
    current, remaining = day, abs(count)
    while remaining:
        target = _add_weekdays(current, remaining if forward else -remaining)
        if forward:  # weekdays passed: after current up to and including target
            remaining = sum(1 for holiday in workdays if current < holiday <= target)
        else:
            remaining = sum(1 for holiday in workdays if target <= holiday < current)
        current = target
    return current


def _add_weekdays(day: date, count: int) -> date:
    """The `count`-th weekday after `day` (before it when negative, never 0)."""
    weeks, rest = divmod(abs(count), 5)
    if count > 0:
        if day.weekday() > 4:  # from a weekend, as from its Friday
            day -= timedelta(days=day.weekday() - 4)
        if day.weekday() + rest > 4:
            rest += 2
        return day + timedelta(weeks=weeks, days=rest)
    if day.weekday() > 4:  # as from the next Monday
        day += timedelta(days=7 - day.weekday())
    if day.weekday() - rest < 0:
        rest += 2
    return day - timedelta(weeks=weeks, days=rest)
