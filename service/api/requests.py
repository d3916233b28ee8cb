"""Reading request bodies strictly: JSON only, parsed once, any failure a 4xx."""

from __future__ import annotations

import json

from flask import request

from service.api.problems import Problem


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


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")
