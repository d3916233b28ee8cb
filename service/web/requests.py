"""Reading request bodies strictly: JSON only, parsed once, any failure a 4xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, request
from gunicorn.http.errors import ParseException
from marshmallow import ValidationError
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from schemas.errors import flatten_errors
from service.app import metrics
from service.app.idempotency import run_once
from service.domain.principal import Principal
from service.domain.records import Answer, Grant
from service.policy.model import Policy
from service.store.unit_of_work import UnitOfWork
from service.web.access_log import without_credentials
from service.web.auth import authenticate
from service.web.errors import (
    BodyInvalid,
    CodingUnsupported,
    EncodingUnsupported,
    MalformedRequest,
    NotJson,
)

Result = TypeVar("Result")


def read_json() -> object:
    """The body as JSON text in UTF-8 (RFC 8259; a byte order mark is let pass)."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise NotJson("Send the body as JSON with `Content-Type: application/json`.")
    try:
        text = whole_body().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedRequest(f"The body is not UTF-8 text: {error}") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_one_each)
    except RecursionError:
        raise MalformedRequest("The JSON body is nested too deeply.") from None
    except ValueError as error:
        if "int_max_str_digits" in str(error):  # Python's guard, not a fault of the JSON
            raise MalformedRequest("The body holds a number of more than 4300 digits, which "
                                   "Amends does not read.") from None
        raise MalformedRequest(f"The body is not valid JSON: {error}") from None


def whole_body() -> bytes:
    """The body, all of it, or an error: a 413 when it is larger than the limit, also when it
    comes in chunks (werkzeug stops reading such a body at the limit and says nothing, so a
    byte more is looked for), a 400 when the server cannot read it (a malformed chunk) or
    when it comes in a transfer coding besides chunked (gunicorn passes `gzip, chunked` on
    undecoded) or ends before its Content-Length, a 415 in a content coding (none is
    decoded)."""
    asked = request._get_current_object()
    _refuse_codings(asked.headers.get("Content-Encoding"), "identity", EncodingUnsupported,
                    "Content-Encoding {} is not supported: send the body as it is (identity).")
    _refuse_codings(asked.headers.get("Transfer-Encoding"), "chunked", CodingUnsupported,
                    "Transfer-Encoding {} is not supported: send the body as it is, or chunked.")
    try:
        raw = asked.get_data(cache=True)
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if (asked.content_length is None and limit is not None and len(raw) >= limit
                and asked.environ["wsgi.input"].read(1)):
            raise RequestEntityTooLarge()
    except (ParseException, OSError) as error:  # gunicorn's: a chunk it cannot read, or
        raise MalformedRequest(  # cut off; a chunk's trailer may quote a key
            f"The body could not be read: {without_credentials(str(error))}") from None
    except ClientDisconnected:  # werkzeug's: fewer bytes than Content-Length said, or a
        # chunked body that stopped (gunicorn still waiting for a chunk it could read)
        raise MalformedRequest(SHORT_BODY if asked.content_length is not None
                               else SHORT_CHUNKS) from None
    # gunicorn marks its input terminated, so werkzeug reads it as it comes: a body that
    # ends early (the client closed its end) arrives short, with no error of its own.
    if asked.content_length is not None and len(raw) < asked.content_length:
        raise MalformedRequest(SHORT_BODY)
    return raw


def _refuse_codings(header: str | None, allowed: str, refusal: type[Exception],
                    message: str) -> None:
    """Raise `refusal` naming every coding in the header besides `allowed` (none: the
    header is absent, the usual case, and costs nothing more)."""
    if header is None:
        return
    other = [c.strip() for c in header.split(",") if c.strip() and c.strip().lower() != allowed]
    if other:
        raise refusal(message.format(", ".join(other)))


SHORT_BODY = ("The body ended before its Content-Length: it stopped arriving, or took longer "
              "than AMENDS_READ_TIMEOUT_SECONDS.")
SHORT_CHUNKS = ("The chunked body did not arrive whole within AMENDS_READ_TIMEOUT_SECONDS: it "
                "stopped arriving, or a chunk was not framed as HTTP/1.1 says (each size and "
                "each chunk ending in CRLF, a last chunk of size 0).")


def body_as(schema_class) -> dict:
    """An optional JSON body (none at all counts as `{}`) loaded with its schema."""
    body = {} if not whole_body() else read_json()
    if not isinstance(body, dict):
        raise BodyInvalid({"_body": ["The body must be a JSON object."]})
    try:
        return schema_class().load(body)
    except ValidationError as error:
        raise BodyInvalid(flatten_errors(error.messages)) from None


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip(" \t")  # HTTP's whitespace only: the bytes 0x85, 0xA0 are the key's
    if not 1 <= len(key) <= 200:  # WSGI reads a header's bytes as Latin-1: a byte a character
        raise MalformedRequest("Idempotency-Key must be 1 to 200 bytes (as many ASCII "
                               "characters).")
    return key


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _one_each(pairs: list[tuple[str, object]]) -> dict:
    """An object whose names are unique (RFC 8259 says they SHOULD be, and parsers differ on
    which value of a repeated one they keep): a name given twice is refused."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        twice = next(name for name, _ in pairs if name in seen or seen.add(name))
        raise ValueError(f"the name {twice!r} appears twice in one object")
    return document


def idempotent(body: dict, operation: Callable[[UnitOfWork, Policy, Principal], Result],
               render: Callable[[Result], Answer]):
    """Run a grant, approval or outcome use case once per Idempotency-Key, as the caller;
    `render` makes the answer, which is kept for a retry with the same key."""
    principal = authenticate()
    store, policy = current_app.extensions["amends.store"], g.active.policy
    answer = run_once(store, principal, idempotency_key(), request.path, body,
                      lambda uow: operation(uow, policy, principal), render, _count_grant)
    return current_app.json.response(answer.document), answer.status


def _count_grant(result: object) -> None:
    """Count grants once: called for a new result only, never for a replayed answer."""
    grants = getattr(result, "grants", None) or (
        result if isinstance(result, Grant) else getattr(result, "grant", None),)
    for grant in grants:
        if isinstance(grant, Grant):
            metrics.granted(grant.remedy, grant.role, grant.value)
