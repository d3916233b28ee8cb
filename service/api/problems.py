"""Errors as RFC 9457 problem details (application/problem+json), with the fields at fault."""

from __future__ import annotations

import json

from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from service.intake import IncidentInvalid, flatten_errors
from service.store.keyset import CursorInvalid

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str, errors: dict | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


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

    @app.errorhandler(CursorInvalid)
    def _bad_cursor(error: CursorInvalid):
        return problem_response(422, "Unprocessable Content", str(error),
                                {"cursor": [str(error)]})

    @app.errorhandler(IncidentInvalid)
    def _invalid_incident(error: IncidentInvalid):
        title = "Invalid incident" if request.path == "/v1/decisions" else "Invalid request"
        return problem_response(422, title, "The body has fields at fault; see errors.",
                                error.errors)

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
        headers = dict(data.get("headers") or {})
        return problem_response(error.code or 500, error.name, detail, errors, headers)

    @app.errorhandler(DBAPIError)
    def _database_unavailable(error: DBAPIError):
        # Connection lost, server down, database locked past the busy timeout: retryable.
        app.logger.warning("database unavailable: %s", str(error).splitlines()[0])
        return problem_response(503, "Service Unavailable",
                                "The database is unavailable; nothing was changed. Retry later.",
                                headers={"Retry-After": "2"})

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500, "Internal Server Error",
                                "Amends failed on this request; it has been logged.")
