"""Presenters: domain records and use-case results as the API's JSON documents, one module
per resource, each beside the schema it fills (`schemas/`). Nothing else builds a JSON answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal


def plain_decimal(value: Decimal | None) -> str | None:
    """A decimal without exponent or trailing zeros: "12.5", "10"."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def moment_json(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
