"""Why a use case refuses: each maps to one HTTP status in `service.web.errors`."""

from __future__ import annotations


class NotFound(Exception):
    """No such decision, offer or approval request (404)."""


class Conflict(Exception):
    """Conflicts with what is stored (409): the incident decided with another body, an offer
    already granted, an alternative already chosen, a request already decided."""


class Forbidden(Exception):
    """The caller's role may not do this (403)."""


class NeedsApproval(Exception):
    """Beyond the caller's limits or running totals (403): say who may approve, and why."""

    def __init__(self, approver: str | None, reasons: list[str]):
        self.approver = approver
        self.reasons = reasons
        who = f"needs approval by {approver}" if approver else "no role may grant it"
        super().__init__(f"This grant {who}: {'; '.join(reasons)}.")


class KeyReused(Exception):
    """An Idempotency-Key first used for another request (422)."""
