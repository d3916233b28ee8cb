"""Query arguments of API calls are given once: a name repeated (`limit=1&limit=2`) is a 422
naming it, where the schemas would silently take the first value. (Unknown names are refused
by each route's query schema.)"""

from __future__ import annotations

from flask import Flask, request

from service.web.auth import API_PREFIX
from service.web.errors import QueryInvalid


def check_given_once() -> None:
    asked = request._get_current_object()
    if (not asked.query_string or asked.endpoint is None  # none (most calls): nothing to parse
            or not asked.path.startswith(API_PREFIX)):
        return  # no such route (a 404 or 405), or not an API call
    repeated = {name: ["Given more than once: give it once."]
                for name, values in asked.args.lists() if len(values) > 1}
    if repeated:
        raise QueryInvalid(repeated)


def register(app: Flask) -> None:
    app.before_request(check_given_once)
