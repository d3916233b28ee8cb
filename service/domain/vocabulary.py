"""The words Amends decides and records with, as types: each value is also its JSON text."""

from __future__ import annotations

from enum import StrEnum


class Outlook(StrEnum):
    """Will recovery likely work?"""

    LIKELY = "likely"
    UNCERTAIN = "uncertain"
    UNLIKELY = "unlikely"


class FactorEffect(StrEnum):
    """What a named factor does to the outlook."""

    HELPS = "helps"
    HURTS = "hurts"
    BLOCKS = "blocks"


class StepName(StrEnum):
    """The recovery sequence, declared in the order it is carried out."""

    ACKNOWLEDGE = "acknowledge"
    APOLOGIZE = "apologize"
    TAKE_OWNERSHIP = "take_ownership"
    UNDERSTAND = "understand"
    FIX = "fix"
    FOLLOW_UP = "follow_up"


class Approval(StrEnum):
    """Whether the caller may grant an offer without anyone's approval."""

    NOT_REQUIRED = "not_required"
    REQUIRED = "required"


class OfferVariant(StrEnum):
    FULL = "full"
    CAPPED = "capped"  # the same remedy (or the nearest one) held to the caller's limit


class OfferSource(StrEnum):
    POLICY = "policy"
    CUSTOMER_ASK = "customer_ask"


class OfferState(StrEnum):
    PROPOSED = "proposed"
    APPROVAL_PENDING = "approval_pending"
    GRANTED = "granted"
    REJECTED = "rejected"


class RequestState(StrEnum):
    """The state of an approval request."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


OUTLOOKS = tuple(Outlook)
FACTOR_EFFECTS = tuple(FactorEffect)
STEPS = tuple(StepName)
