"""Ids a request carries outside its body, checked before any view runs: a path id that no
stored row could have (a NUL character, an unpaired surrogate, longer than its column) is a
422 naming the path parameter, and an `Idempotency-Key` that could not be stored a 400. So
such a value never reaches the database, which would refuse it or store it differently."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api
from werkzeug.routing import BaseConverter, PathConverter

from service.domain.fields import text_fault
from service.store.models import ApprovalRequestRow, DecisionRow, OfferRow, PolicyVersionRow
from service.web.errors import MalformedRequest, PathInvalid

# path parameter -> the column it is looked up in
PATH_IDS = {
    "decision_id": DecisionRow.__table__.c.id,
    "offer_id": OfferRow.__table__.c.id,
    "request_id": ApprovalRequestRow.__table__.c.id,
    "customer_id": DecisionRow.__table__.c.customer_id,
    "version": PolicyVersionRow.__table__.c.version,
    "old_version": PolicyVersionRow.__table__.c.version,
    "new_version": PolicyVersionRow.__table__.c.version,
}


def id_fault(value: str, column) -> str | None:
    """Why no row could have `value` in `column`, or None."""
    if len(value) > column.type.length:
        return f"At most {column.type.length} characters: nothing stored has a longer id."
    return text_fault(value)


def check_request_ids() -> None:
    asked = request._get_current_object()  # the proxy once (Speed, issue 14)
    errors = {name: [fault] for name, value in (asked.view_args or {}).items()
              if name in PATH_IDS and isinstance(value, str)
              and (fault := id_fault(value, PATH_IDS[name]))}
    if errors:
        raise PathInvalid(errors)
    key = asked.headers.get("Idempotency-Key")
    fault = text_fault(key) if key is not None else None
    if fault:
        raise MalformedRequest(f"Idempotency-Key: {fault}")


class StoredDecisionId(BaseConverter):
    """A decision id in a path, never `preview`: `/v1/decisions/preview` is then only the
    preview's, so GET on it is a 405 and OPTIONS on it allows POST alone."""

    regex = r"(?!preview\Z)[^/]+"


class AnyId(PathConverter):
    """An id that may hold `/` (a customer's) and any other character: werkzeug's `path`
    stops at a line break, which made `/v1/customers/a%0Ab/history` a 404."""

    regex = r"[^/][\s\S]*?"


def document(spec: dict) -> None:
    """The OpenAPI document states each path id's longest length (a 422 beyond it)."""
    for item in spec["paths"].values():
        lists = [item.get("parameters", []),
                 *(op.get("parameters", []) for op in item.values() if isinstance(op, dict))]
        for parameter in (parameter for listed in lists for parameter in listed):
            if parameter.get("in") == "path" and parameter["name"] in PATH_IDS:
                parameter["schema"]["maxLength"] = PATH_IDS[parameter["name"]].type.length


def register_converter(app: Flask, api: Api) -> None:
    """Before the routes that use them."""
    app.url_map.converters.update(stored_decision=StoredDecisionId, any_id=AnyId)
    api.register_converter(StoredDecisionId, lambda _converter: {
        "type": "string", "minLength": 1, "not": {"enum": ["preview"]}})
    api.register_converter(AnyId, lambda _converter: {"type": "string", "minLength": 1})


def register(app: Flask) -> None:
    app.before_request(check_request_ids)
