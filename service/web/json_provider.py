"""Flask's JSON answers through orjson: the same documents as Flask's default provider,
several times faster on the hot path (every answer is a plain document of str, int,
bool, None, lists and dicts built by the presenters).

Anything orjson refuses (an int beyond 64 bits, a string with a lone surrogate, a key that
is not a string) is written by the stdlib as Flask's default provider writes it, and any
call with stdlib options (`indent=`, debug mode) goes through that provider itself: no
document is answered differently in content. Only the bytes of some differ: orjson writes
non-ASCII characters as UTF-8 rather than `\\uXXXX` escapes.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import typing as t
import uuid
from datetime import date

import orjson
from flask.json.provider import DefaultJSONProvider
from werkzeug.http import http_date

# Dates go to `_default` as Flask's provider has them (HTTP dates), never orjson's ISO form.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def _default(o: t.Any) -> t.Any:
    """What Flask's default provider makes of types JSON has not: Decimal and UUID as
    strings (money is never a float), dates as HTTP dates, dataclasses as dicts."""
    if isinstance(o, date):
        return http_date(o)
    if isinstance(o, decimal.Decimal | uuid.UUID):
        return str(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "__html__"):
        return str(o.__html__())
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def encode(document: t.Any, sort_keys: bool = False) -> bytes:
    """`document` as compact UTF-8 JSON; what orjson refuses, as the stdlib writes it."""
    try:
        return orjson.dumps(document, default=_default,
                            option=_OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(document, default=_default, sort_keys=sort_keys,
                          separators=(",", ":")).encode()


class OrjsonProvider(DefaultJSONProvider):
    """Flask's default provider (its attributes, its behaviour with stdlib options) with
    orjson for plain `dumps` and `response`. `loads` stays the stdlib's: orjson reads an
    integer beyond 64 bits as a float, and the hot path parses its body itself anyway
    (service.web.requests.read_json)."""

    sort_keys = False  # the contract's field order

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        return encode(obj, self.sort_keys).decode()

    def response(self, *args: t.Any, **kwargs: t.Any):
        """A JSON response, as Flask's (compact, ending in a newline), or indented in debug
        mode when `compact` is not set, through Flask's own provider."""
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(encode(obj, self.sort_keys) + b"\n",
                                        mimetype=self.mimetype)
