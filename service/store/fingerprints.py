"""Fingerprints of requests, stored to tell a retry from a different request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import orjson


def of_incident(body: Mapping[str, object]) -> str:
    """The same incident body, whatever its key order or spacing, has the same print: the
    SHA-256 of its canonical text (keys sorted, no spaces, UTF-8), as the standard library
    writes it (the prints of stored decisions must not change). orjson writes the same bytes
    for a body without floats (its own float form differs) and is used there, falling back
    on what it refuses (an integer beyond 64 bits, a lone surrogate); a test holds the two
    to the same bytes."""
    return hashlib.sha256(canonical(body)).hexdigest()


def canonical(body: Mapping[str, object]) -> bytes:
    if _floatless(body):
        try:
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # beyond 64 bits, a lone surrogate, nested too deep
            pass
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _floatless(body: object) -> bool:
    """No float anywhere in the body (walked without recursion: any depth)."""
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, float):
            return False
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
    return True


def of_request(route: str, body: Mapping[str, object]) -> str:
    """A call's route and body, for an Idempotency-Key (a format kept since the first
    release, so keys given before an upgrade still match)."""
    return hashlib.sha256(json.dumps([route, body], sort_keys=True).encode()).hexdigest()
