"""Every error as an RFC 9457 problem (application/problem+json), from one table that maps
exception types to status and title; nothing else decides an error's status."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from schemas.errors import flatten_errors
from service.app.errors import (
    Conflict,
    Forbidden,
    Invalid,
    KeyReused,
    NeedsApproval,
    NotFound,
    SetNeedsApproval,
)
from service.domain.incident import IncidentInvalid
from service.store.errors import DatabaseUnavailable, UniquenessRace, ValueRefused
from service.store.keyset import CursorInvalid

PROBLEM_JSON = "application/problem+json"


class Unauthenticated(Exception):
    """No credentials, or ones that are not known or not valid (401)."""

    def __init__(self, detail: str, invalid_token: bool = False):
        super().__init__(detail)
        self.challenge = ('Bearer realm="amends", error="invalid_token"' if invalid_token
                          else 'Bearer realm="amends"')


class NotJson(Exception):
    """The body is not sent as JSON (415)."""


class EncodingUnsupported(NotJson):
    """The body comes in a content coding (gzip, ...) the service does not decode (415,
    with `Accept-Encoding: identity`, RFC 9110 15.5.16)."""


class MalformedRequest(Exception):
    """The body is not valid JSON, or a header is malformed (400)."""


class CodingUnsupported(MalformedRequest):
    """The body comes in a transfer coding the service does not decode (400, as gunicorn's
    refusal of one it does not know: the client's to change)."""


class BodyInvalid(Exception):
    """A request body (not an incident) with fields at fault (422)."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("The body has fields at fault; see errors.")


class PathInvalid(Exception):
    """Path ids that no stored row could have (422)."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("The path names something that cannot exist; see errors.")


class QueryInvalid(Exception):
    """Query arguments at fault that no schema sees: a name given more than once (422)."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("The query has arguments at fault; see errors.")


class PolicyRefused(Exception):
    """A policy version that was not activated; another keeps serving (422)."""

    def __init__(self, version: str | None, active_version: str, reasons: list[str]):
        self.active_version = active_version
        self.reasons = reasons
        super().__init__(f"Version {version} was refused; {active_version} keeps serving.")


class NotReady(Exception):
    """This worker cannot serve the active policy version (503)."""

    def __init__(self, detail: str, retry_after: int, serving: str, active: str):
        self.retry_after, self.serving, self.active = retry_after, serving, active
        super().__init__(detail)


NOTHING_CHANGED = "The database is unavailable; nothing was changed. Retry later."
MAYBE_SAVED = ("The connection to the database was lost before it answered: if that was while "
               "saving, the change may have been made. Retry later with the same "
               "Idempotency-Key (a decision: the same body), which answers a change already "
               "made rather than making it twice.")

# exception type -> (status, title, what the document carries besides `detail`)
ERRORS: dict[type[Exception], tuple[int, str, Callable[[Exception], dict]]] = {
    MalformedRequest: (400, "Bad Request", lambda e: {}),
    Unauthenticated: (401, "Unauthorized", lambda e: {
        "headers": {"WWW-Authenticate": e.challenge}}),
    NotJson: (415, "Unsupported Media Type", lambda e: {}),
    EncodingUnsupported: (415, "Unsupported Media Type", lambda e: {
        "headers": {"Accept-Encoding": "identity"}}),
    IncidentInvalid: (422, "Invalid incident", lambda e: {
        "detail": "The body has fields at fault; see errors.", "errors": e.errors}),
    BodyInvalid: (422, "Invalid request", lambda e: {"errors": e.errors}),
    PathInvalid: (422, "Unprocessable Content", lambda e: {"errors": e.errors}),
    QueryInvalid: (422, "Unprocessable Content", lambda e: {"errors": e.errors}),
    PolicyRefused: (422, "Policy refused", lambda e: {
        "reasons": e.reasons, "active_version": e.active_version}),
    CursorInvalid: (422, "Unprocessable Content", lambda e: {"errors": {"cursor": [str(e)]}}),
    KeyReused: (422, "Idempotency-Key reused",
                lambda e: {"errors": {"Idempotency-Key": [str(e)]}}),
    ValueRefused: (422, "Unprocessable Content", lambda e: {"errors": e.errors}),
    NotFound: (404, "Not Found", lambda e: {}),
    Conflict: (409, "Conflict", lambda e: {}),
    UniquenessRace: (409, "Conflict", lambda e: {}),
    Forbidden: (403, "Forbidden", lambda e: {}),
    NeedsApproval: (403, "Approval required", lambda e: {
        "approver_role": e.approver, "reasons": e.reasons}),
    SetNeedsApproval: (403, "Approval required", lambda e: {
        "offers": [{"offer_id": r.offer_id, "remedy": r.remedy, "value": r.value.to_json(),
                    "reasons": list(r.reasons), "approver_role": r.approver_role}
                   for r in e.refusals],
        "grants_since_decision": e.grants_since}),
    Invalid: (422, "Unprocessable Content", lambda e: {"errors": e.errors}),
    DatabaseUnavailable: (503, "Service Unavailable", lambda e: {
        "detail": MAYBE_SAVED if e.maybe_saved else NOTHING_CHANGED,
        "headers": {"Retry-After": "2"}}),
    NotReady: (503, "Service Unavailable", lambda e: {
        "headers": {"Retry-After": str(e.retry_after)}, "serving_version": e.serving,
        "active_version": e.active}),
}


def problem_response(status: int, title: str, detail: str, errors: dict | None = None,
                     headers: dict | None = None, **extra) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "instance": request.path if request else None}
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register(app: Flask) -> None:
    def from_table(error: Exception):
        kind = next(kind for kind in type(error).__mro__ if kind in ERRORS)  # subclasses too
        status, title, fields = ERRORS[kind]
        if kind is DatabaseUnavailable:
            app.logger.warning("database unavailable: %s", error)
        extra = {"detail": str(error), **fields(error)}
        return problem_response(status, title, **extra)

    for kind in ERRORS:
        app.register_error_handler(kind, from_table)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        errors = None
        if messages:  # webargs validation errors, keyed by location
            errors = {}
            for location_errors in messages.values():
                errors.update(flatten_errors(location_errors))
        detail = error.description or error.name
        title = error.name
        if error.code == 422:  # webargs' (the query's): named as RFC 9110 and the others do
            title = "Unprocessable Content"
            detail = "The query has arguments at fault; see errors." if errors else detail
        if error.code == 413:
            detail = f"The body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes."
        # werkzeug's own headers of the error (405: Allow, 401: WWW-Authenticate...), not
        # its HTML content type; then any the abort() call added.
        headers = {name: value for name, value in error.get_headers()
                   if name.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return problem_response(error.code or 500, title, detail, errors, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "Internal Server Error",
                                "Amends failed on this request; it has been logged.")
