"""Every error as an RFC 9457 problem (application/problem+json), from one table that maps
exception types to status and title; nothing else decides an error's status."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from schemas.errors import flatten_errors
from service.app.errors import Conflict, Forbidden, KeyReused, NeedsApproval, NotFound
from service.domain.incident import IncidentInvalid
from service.store.errors import DatabaseUnavailable, UniquenessRace, ValueRefused
from service.store.keyset import CursorInvalid

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise in a view to answer with a problem document of this status, title and detail."""

    def __init__(self, status: int, title: str, detail: str, errors: dict | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def _incident_title(_error) -> str:
    return "Invalid incident" if request.path == "/v1/decisions" else "Invalid request"


# exception type -> (status, title, what the document carries besides `detail`)
ERRORS: dict[type[Exception], tuple[int, str | Callable, Callable[[Exception], dict]]] = {
    IncidentInvalid: (422, _incident_title, lambda e: {
        "detail": "The body has fields at fault; see errors.", "errors": e.errors}),
    CursorInvalid: (422, "Unprocessable Content", lambda e: {"errors": {"cursor": [str(e)]}}),
    KeyReused: (422, "Idempotency-Key reused", lambda e: {}),
    ValueRefused: (422, "Unprocessable Content", lambda e: {"errors": e.errors}),
    NotFound: (404, "Not Found", lambda e: {}),
    Conflict: (409, "Conflict", lambda e: {}),
    UniquenessRace: (409, "Conflict", lambda e: {}),
    Forbidden: (403, "Forbidden", lambda e: {}),
    NeedsApproval: (403, "Approval required", lambda e: {
        "approver_role": e.approver, "reasons": e.reasons}),
    DatabaseUnavailable: (503, "Service Unavailable", lambda e: {
        "detail": "The database is unavailable; nothing was changed. Retry later.",
        "headers": {"Retry-After": "2"}}),
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
    @app.errorhandler(Problem)
    def _problem(error: Problem):
        return problem_response(error.status, error.title, error.detail, error.errors,
                                error.headers, **error.extra)

    def from_table(error: Exception):
        kind = next(kind for kind in type(error).__mro__ if kind in ERRORS)  # subclasses too
        status, title, fields = ERRORS[kind]
        if status == 503:
            app.logger.warning("database unavailable: %s", error)
        extra = {"detail": str(error), **fields(error)}
        return problem_response(status, title(error) if callable(title) else title, **extra)

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
        if error.code == 413:
            detail = f"The body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes."
        # werkzeug's own headers of the error (405: Allow, 401: WWW-Authenticate...), not
        # its HTML content type; then any the abort() call added.
        headers = {name: value for name, value in error.get_headers()
                   if name.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return problem_response(error.code or 500, error.name, detail, errors, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "Internal Server Error",
                                "Amends failed on this request; it has been logged.")
