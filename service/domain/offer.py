"""An offer of a decision: a remedy worth a sum, and whether the caller may grant it now."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from service.domain.money import Money
from service.domain.vocabulary import Approval, OfferSource, OfferVariant


@dataclass(frozen=True)
class Offer:
    number: int
    remedy: str
    value: Money
    percent: Decimal | None
    # not_required: the caller may grant it alone, now, given the running totals; else
    # required, with the lowest role whose limits and caps (given the totals) cover it.
    approval: Approval
    approver_role: str | None
    rule: str | None
    reason: str
    variant: OfferVariant = OfferVariant.FULL
    capped_from: int | None = None
    source: OfferSource = OfferSource.POLICY
