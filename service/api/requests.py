"""Reading request bodies strictly: JSON only, parsed once, any failure a 4xx."""

from __future__ import annotations

import json

from flask import request
from marshmallow import ValidationError

from service.api.problems import Problem
from service.intake import IncidentInvalid, flatten_errors


def json_body() -> object:
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise Problem(415, "Unsupported Media Type",
                      "Send the body as JSON with `Content-Type: application/json`.")
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise Problem(400, "Bad Request", "The JSON body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise Problem(400, "Bad Request", f"The body is not valid JSON: {error}") from None


def body_as(schema_class) -> dict:
    """An optional JSON body (none at all counts as `{}`) loaded with its schema."""
    body = {} if not request.get_data(cache=True) else json_body()
    if not isinstance(body, dict):
        raise IncidentInvalid({"_body": ["The body must be a JSON object."]})
    try:
        return schema_class().load(body)
    except ValidationError as error:
        raise IncidentInvalid(flatten_errors(error.messages)) from None


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 200:
        raise Problem(400, "Bad Request", "Idempotency-Key must be 1 to 200 characters.")
    return key


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")
