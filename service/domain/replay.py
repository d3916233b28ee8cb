"""What-if replay: a stored decision against what a candidate policy decides for the same
incident, as it stood, and the tally of a whole replay. Pure: no I/O.

Two answers are compared on what a customer and the caller would see:

- the outlook;
- the offers, each by (remedy, variant, value in the order's currency, rounded to its minor
  unit as stored): an offer of the candidate no stored offer matches is *added*, a stored
  offer the candidate does not make again is *removed*;
- the approvals of the offers both make: an offer's `approval` or `approver_role`, or whether
  it is in the set the caller may grant together now (`grant_now`).

Money is summed per currency, before and after: *offered* is the value of the full offers
(capped variants repeat a full offer for less, so they are left out); *approval-free* is the
`grant_now` total, what the caller could grant together at once without anyone's approval (a
decision stored before `grant_now` existed counts nothing there).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from service.domain.decision import Decision
from service.domain.money import round_money
from service.domain.offer import Offer
from service.domain.vocabulary import OfferVariant, Outlook

OfferKey = tuple[str, str, Decimal, str]  # remedy, variant, rounded amount, currency
MAX_REASONS = 50  # distinct reasons kept for "not decidable"; the rest counted together
OTHER_REASONS = "(other reasons)"


@dataclass(frozen=True)
class Replayable:
    """A stored decision as a replay reads it: the request it answered, the caller's role,
    and the decision (with what was granted when it was decided)."""

    id: str
    incident_id: str
    decided_at: datetime
    role: str
    request: Mapping[str, object]
    decision: Decision


def offer_key(offer: Offer) -> OfferKey:
    value = offer.value
    return (offer.remedy, str(offer.variant), round_money(value.amount, value.currency),
            value.currency)


@dataclass(frozen=True)
class Difference:
    """How the candidate's answer differs from the stored one."""

    outlook: bool
    offers: bool
    approvals: bool
    added: tuple[Offer, ...] = ()  # the candidate's offers no stored offer matches
    removed: tuple[Offer, ...] = ()  # stored offers the candidate does not make
    # Offers both make whose approval, approver role or place in grant_now differs:
    # (stored, candidate's).
    approvals_moved: tuple[tuple[Offer, Offer], ...] = ()

    @property
    def changed(self) -> bool:
        return self.outlook or self.offers or self.approvals


def compare(before: Decision, after: Decision) -> Difference:
    """What differs between the stored decision and the candidate's for the same incident."""
    unmatched: dict[OfferKey, list[Offer]] = {}
    for offer in before.offers:
        unmatched.setdefault(offer_key(offer), []).append(offer)
    pairs: list[tuple[Offer, Offer]] = []
    added: list[Offer] = []
    for offer in after.offers:
        same = unmatched.get(offer_key(offer))
        if same:
            pairs.append((same.pop(0), offer))
        else:
            added.append(offer)
    leftover = {id(offer) for left in unmatched.values() for offer in left}
    removed = tuple(offer for offer in before.offers if id(offer) in leftover)
    now_before = _numbers(before)
    now_after = _numbers(after)
    moved = tuple(
        (old, new) for old, new in pairs
        if (old.approval, old.approver_role) != (new.approval, new.approver_role)
        or (now_before is not None and now_after is not None
            and (old.number in now_before) != (new.number in now_after)))
    return Difference(outlook=before.outlook != after.outlook,
                      offers=bool(added or removed), approvals=bool(moved),
                      added=tuple(added), removed=removed, approvals_moved=moved)


def _numbers(decision: Decision) -> set[int] | None:
    chosen = decision.grant_now
    return None if chosen is None else {offer.number for offer in chosen.offers}


def offered(decision: Decision) -> Decimal:
    """The value of the decision's full offers, each rounded as stored."""
    return sum((round_money(o.value.amount, o.value.currency) for o in decision.offers
                if o.variant == OfferVariant.FULL), Decimal(0))


def approval_free(decision: Decision) -> Decimal:
    """What the caller could grant together, now, without approval (its grant_now total)."""
    chosen = decision.grant_now
    if chosen is None:
        return Decimal(0)
    return round_money(chosen.total.amount, chosen.total.currency)


@dataclass(frozen=True)
class Changed:
    """One changed decision, both answers side by side."""

    stored: Replayable
    after: Decision
    difference: Difference


def _add(totals: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    totals[currency] = totals.get(currency, Decimal(0)) + amount


@dataclass
class ReplayTally:
    """Everything a replay reports, added to one stored decision at a time."""

    sample_size: int = 10
    read: int = 0  # stored decisions looked at
    compared: int = 0  # of them, decided by the candidate too
    changed: int = 0
    outlook_changed: int = 0
    offers_changed: int = 0
    approvals_changed: int = 0
    outlook_moves: Counter[tuple[Outlook, Outlook]] = field(default_factory=Counter)
    not_decidable: Counter[str] = field(default_factory=Counter)  # reason -> decisions
    role_missing: Counter[str] = field(default_factory=Counter)  # role -> decisions
    # per currency, over the compared decisions
    offered_before: dict[str, Decimal] = field(default_factory=dict)
    offered_after: dict[str, Decimal] = field(default_factory=dict)
    approval_free_before: dict[str, Decimal] = field(default_factory=dict)
    approval_free_after: dict[str, Decimal] = field(default_factory=dict)
    # compared decisions stored before grant_now was decided, left out of both sums above
    approval_free_unknown: int = 0
    # rule id -> decisions whose trace names it, over the compared decisions
    fired_before: Counter[str] = field(default_factory=Counter)
    fired_after: Counter[str] = field(default_factory=Counter)
    sample: list[Changed] = field(default_factory=list)  # the first changes, in read order
    oldest: datetime | None = None  # the period the decisions read span
    newest: datetime | None = None

    @property
    def not_decidable_count(self) -> int:
        return sum(self.not_decidable.values())

    @property
    def role_missing_count(self) -> int:
        return sum(self.role_missing.values())

    def _seen(self, stored: Replayable) -> None:
        self.read += 1
        moment = stored.decided_at
        if self.oldest is None or moment < self.oldest:
            self.oldest = moment
        if self.newest is None or moment > self.newest:
            self.newest = moment

    def add(self, stored: Replayable, after: Decision) -> Difference:
        """Count a stored decision and the candidate's answer to it."""
        self._seen(stored)
        self.compared += 1
        before = stored.decision
        difference = compare(before, after)
        currency = _currency(before, after, stored.request)
        _add(self.offered_before, currency, offered(before))
        _add(self.offered_after, currency, offered(after))
        if before.grant_now is None:  # stored before grant_now was decided: not known
            self.approval_free_unknown += 1
        else:
            _add(self.approval_free_before, currency, approval_free(before))
            _add(self.approval_free_after, currency, approval_free(after))
        self.fired_before.update({rule.id for rule in before.trace})
        self.fired_after.update({rule.id for rule in after.trace})
        if difference.changed:
            self.changed += 1
            self.outlook_changed += difference.outlook
            self.offers_changed += difference.offers
            self.approvals_changed += difference.approvals
            if difference.outlook:
                self.outlook_moves[(before.outlook, after.outlook)] += 1
            if len(self.sample) < self.sample_size:
                self.sample.append(Changed(stored, after, difference))
        return difference

    def refused(self, stored: Replayable, reason: str) -> None:
        """The candidate refuses the stored request (a category or currency it lacks...)."""
        self._seen(stored)
        if reason not in self.not_decidable and len(self.not_decidable) >= MAX_REASONS:
            reason = OTHER_REASONS
        self.not_decidable[reason] += 1

    def without_role(self, stored: Replayable) -> None:
        """The candidate has no role of the stored caller."""
        self._seen(stored)
        self.role_missing[stored.role] += 1

    def rules(self) -> list[tuple[str, int, int]]:
        """(rule, fired before, fired after) for every rule that fired either way, the ones
        whose count changed most first."""
        names = set(self.fired_before) | set(self.fired_after)
        return sorted(((name, self.fired_before[name], self.fired_after[name])
                       for name in names),
                      key=lambda r: (-abs(r[2] - r[1]), r[0]))

    def currencies(self) -> list[str]:
        return sorted(set(self.offered_before) | set(self.offered_after))


def _currency(before: Decision, after: Decision, request: Mapping[str, object]) -> str:
    order = request.get("order")
    currency = order.get("currency") if isinstance(order, Mapping) else None
    if currency:
        return str(currency)
    for offer in (*before.offers, *after.offers):
        return offer.value.currency
    return "?"


def reason_of(errors: Mapping[str, Iterable[str]]) -> str:
    """One line for the fields a candidate refuses in a stored request."""
    return "; ".join(f"{path}: {' '.join(messages)}" for path, messages in sorted(errors.items()))
