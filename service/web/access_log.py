"""One JSON line per request: what was asked, by whom, with which policy, how it ended.

Never the Authorization header, keys, tokens or bodies.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

import orjson
from flask import Flask, g, request

logger = logging.getLogger("amends.access")


# Dates and dataclasses as the stdlib's `default=str` has them, not orjson's own forms.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class JsonLines(logging.Formatter):
    """One JSON object a line, through orjson (what it refuses, as the stdlib writes it);
    the time, to the second, formatted once a second."""

    _second: tuple[int, str] = (-1, "")  # one attribute: read and replaced at once

    def format(self, record: logging.LogRecord) -> str:
        second, text = self._second
        if int(record.created) != second:
            text = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            self._second = (int(record.created), text)
        entry = {"time": text, "level": record.levelname,
                 "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str, option=_OPTIONS).decode()
        except orjson.JSONEncodeError:
            return json.dumps(entry, default=str)


# A credential in a line that quotes a request it could not read ("Invalid HTTP Header:
# 'Authorization Bearer <key>'"): everything after the word, to the end of the line (a key
# may hold a quote).
_CREDENTIAL = re.compile(r"(?i)(authorization|bearer)\b[^\n]*")
# A header line gunicorn could not read, quoted: it may be a key alone, sent after a line
# break ("Bearer \r\n<key>"), so it is blanked unless it is (or begins with) the name of a
# header that holds no secret (`'CONTENT-LENGTH'`, `'Content-Type application/json'`).
_BAD_HEADER = re.compile(r"(?i)(invalid http header(?: name)?: )([^\n]*)")
_PLAIN_HEADER = re.compile(
    r"(?i)'?(content-length|content-type|content-encoding|transfer-encoding|host|connection|"
    r"expect|upgrade|te|trailer|accept[a-z-]*|user-agent|idempotency-key)(?:['\s:;]|$)")


def _header_quoted(match: re.Match) -> str:
    """The name of a header that holds no secret, and nothing after it (a line without a
    colon, `Accept <key>`, may still carry one)."""
    plain = _PLAIN_HEADER.match(match.group(2))
    if plain is None:
        return match.group(1) + "[redacted]"
    rest = match.group(2)[plain.end(1):].strip("'\" ")
    return match.group(1) + f"'{plain.group(1)}'" + (" [redacted]" if rest else "")


def without_credentials(text: str) -> str:
    """`text` with whatever follows `Authorization` or `Bearer`, and any header line quoted
    as unreadable but that of a header holding no secret, blanked out."""
    return _CREDENTIAL.sub(r"\1 [redacted]", _BAD_HEADER.sub(_header_quoted, text))


class RedactCredentials(logging.Filter):
    """Keys never reach the log, not even in gunicorn's line about a malformed header."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = without_credentials(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def configure_logging() -> None:
    """JSON lines on stderr for Amends' loggers, the Flask app's included (its logger is
    `amends`); gunicorn's own are given the same format by service.gunicorn_conf."""
    root = logging.getLogger("amends")
    if not any(isinstance(h.formatter, JsonLines) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        handler.addFilter(RedactCredentials())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False


def register(app: Flask) -> None:
    def _start():
        g.started = time.perf_counter()

    # The first of the request's functions: its duration includes following the active
    # policy (service.web.app_factory), which waits on the database when that is slow.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _log(response):
        state = g._get_current_object()  # each read through a proxy costs (Speed, issue 14)
        asked = request._get_current_object()
        principal = getattr(state, "principal", None)
        active = state.get("active")
        logger.info("request", extra={"fields": {
            "method": asked.method, "path": asked.path, "status": response.status_code,
            "duration_ms": round((time.perf_counter()
                                  - state.get("started", time.perf_counter())) * 1000, 2),
            "principal": principal.id if principal else None,
            "role": principal.role if principal else None,
            "decision_id": state.get("decision_id") or (asked.view_args or {}).get(
                "decision_id"),  # made by this call, or the one its path names
            "policy_version": state.get("policy_version") or (active.policy.version
                                                              if active else None),
        }})
        return response
