"""Fingerprints of requests, stored to tell a retry from a different request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def of_incident(body: Mapping[str, object]) -> str:
    """The same incident body, whatever its key order or spacing, has the same print."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def of_request(route: str, body: Mapping[str, object]) -> str:
    """A call's route and body, for an Idempotency-Key (a format kept since the first
    release, so keys given before an upgrade still match)."""
    return hashlib.sha256(json.dumps([route, body], sort_keys=True).encode()).hexdigest()
