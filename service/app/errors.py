"""Why a use case refuses: each maps to one HTTP status in `service.web.errors`."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.money import Money


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
        head = (f"This grant needs approval by {approver}" if approver
                else "No role may grant this now")
        super().__init__(f"{head}: {'; '.join(reasons)}.")


@dataclass(frozen=True)
class Refusal:
    """One offer of a set the caller may not grant: why, and who may approve it."""

    offer_id: str
    remedy: str
    value: Money
    reasons: tuple[str, ...]
    approver_role: str | None


class SetNeedsApproval(Exception):
    """Some offers of a set are beyond the caller's limits or running totals (403): nothing
    was granted. Each is named with its reasons and approver; `grants_since` counts grants
    made since the decision that count toward the same totals."""

    def __init__(self, refusals: list[Refusal], asked: int, grants_since: int):
        self.refusals, self.grants_since = refusals, grants_since
        detail = (f"Nothing was granted: {len(refusals)} of the {asked} offers asked for "
                  f"need approval ({'; '.join(f'{r.offer_id}: {r.reasons[0]}' for r in refusals)})."
                  " Grant the others without them, or ask for approval.")
        if grants_since:
            detail += (f" The running totals changed since this decision was made: "
                       f"{grants_since} grant{'s' if grants_since != 1 else ''} counted "
                       "toward the same limits were made since; GET the decision for a fresh "
                       "grant_now.")
        super().__init__(detail)


class Invalid(Exception):
    """A request that names something it cannot (422): `errors` maps fields to messages
    (of its body or its query: the use case does not know which)."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(f"The request has values at fault ({', '.join(errors)}); see errors.")


class KeyReused(Exception):
    """An Idempotency-Key first used for another request (422)."""
