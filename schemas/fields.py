"""Strict marshmallow fields: JSON's loose types never slip through as something else."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from service.domain.fields import text_fault
from service.domain.money import MoneyError, parse_amount

DEFAULT_PAGE, MAX_PAGE = 50, 200
# The documented form of an amount: exactly what parse_amount reads (ASCII digits, an optional
# dot and fraction of at most three places, leading zeros allowed, at most MAX_AMOUNT, which is
# 1000000000), so that a client checking against the document and the service agree.
MONEY_PATTERN = r"^0*([0-9]{1,9}(\.[0-9]{1,3})?|1000000000(\.0{1,3})?)$"


class MoneyAmount(fields.Field):
    """A non-negative decimal *string* ("12.50") in the documented form (see parse_amount);
    numbers are refused so floats never enter."""

    def __init__(self, **kwargs):
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("example", "12.50")
        metadata.setdefault("pattern", MONEY_PATTERN)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        try:
            return parse_amount(value)
        except MoneyError as error:
            raise ValidationError(str(error)) from None

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


class StrictInteger(fields.Integer):
    """An integer, not a boolean, float or numeric string."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false only (not 1, "yes" or "true")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean: use true or false.")
        return value


class StrictString(fields.String):
    """A string, not a number or boolean converted to one, and one every database can store:
    no NUL character, no unpaired surrogate (see `text_fault`)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        fault = text_fault(value)
        if fault:
            raise ValidationError(fault)
        return super()._deserialize(value, attr, data, **kwargs)


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FlexibleDate(fields.Date):
    """A date as YYYY-MM-DD; YAML gives a date object, JSON a string. Not the other forms
    `date.fromisoformat` reads (20260101, 2026-W01-1), which nobody means as a date here."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime):  # YAML's timestamp (2024-01-01 00:00:00): a moment
            raise ValidationError("Not a valid date: use YYYY-MM-DD (a day, not a moment).")
        if isinstance(value, date):
            return value
        if isinstance(value, str) and not ISO_DATE.fullmatch(value):
            raise ValidationError("Not a valid date: use YYYY-MM-DD.")
        return super()._deserialize(value, attr, data, **kwargs)


class YamlDecimal(fields.Decimal):
    """A decimal from YAML (Decimal, int or numeric string), never a float."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool | float):
            raise ValidationError("Not a valid number.")
        return super()._deserialize(value, attr, data, **kwargs)


class QueryInteger(fields.Integer):
    """A whole number in a query string, written in ASCII digits only (no sign, spaces, `_`,
    fraction or other digits)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not (isinstance(value, str) and value.isascii() and value.isdigit()
                and len(value) <= 9):
            raise ValidationError("Not a whole number: write ASCII digits, such as 10.")
        return int(value)


def page_limit(what: str) -> fields.Integer:
    """The `limit` query argument of a paged list."""
    return QueryInteger(load_default=DEFAULT_PAGE, validate=validate.Range(1, MAX_PAGE),
                        metadata={"description": f"Most {what} on one page"})


class WholeText(validate.Regexp):
    r"""A pattern the whole text must match. The pattern is published as `^...$`, which means
    the whole text in the OpenAPI document's ECMAScript; in Python `$` also matches before a
    final newline ("INC-1\n"), so that is refused here too. (`\Z` is no ECMAScript, and a
    lookahead such as `$(?!\n)` is valid there but lost on tools that generate values from
    the document.)"""

    def __call__(self, value: str) -> str:
        if isinstance(value, str) and value.endswith("\n"):
            raise ValidationError(self._format_error(value))
        return super().__call__(value)


def whole_text(pattern: str, error: str) -> WholeText:
    return WholeText(f"^{pattern}$", error=error)


def next_page_cursor() -> fields.String:
    """`next_cursor` of a paged answer."""
    return fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as `cursor` for the next page; null on the last page"})


def page_cursor() -> fields.String:
    """The `cursor` query argument of a paged list: opaque, URL-safe, short."""
    return fields.String(load_default=None, validate=[
        validate.Length(1, 1000),
        whole_text(r"[A-Za-z0-9_-]+", error="A cursor holds only A-Z a-z 0-9 _ -."),
    ], metadata={"description": "`next_cursor` of the previous page"})
