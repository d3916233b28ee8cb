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


class Basis(StrEnum):
    """How a proposed remedy's value is computed."""

    PERCENT = "percent"  # of the order value
    AMOUNT = "amount"  # fixed, per currency
    SHIPPING_FEE = "shipping_fee"
    UPGRADE_COST = "upgrade_cost"
    ORDER_VALUE = "order_value"
    COMPUTE = "compute"  # an expression over the incident's facts


ORDER_VALUES = (Basis.SHIPPING_FEE, Basis.UPGRADE_COST, Basis.ORDER_VALUE)  # read off the order


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
    """Where an offer is in its life (the moves between them: `service.domain.offer_states`)."""

    PROPOSED = "proposed"
    APPROVAL_PENDING = "approval_pending"
    GRANTED = "granted"  # final: a grant row exists
    REJECTED = "rejected"  # final: nobody grants it or asks for it again


class RequestState(StrEnum):
    """The state of an approval request."""

    PENDING = "pending"
    APPROVED = "approved"  # approved, and so granted by the approver
    REJECTED = "rejected"
    GRANTED = "granted"  # closed because someone granted the offer directly (`decided_by`)
    # closed because someone (`decided_by`) granted an offer this one cannot be granted
    # beside: its alternative, its capped variant, another of its kind; the offer is
    # `proposed` again, and not grantable on this decision
    WITHDRAWN = "withdrawn"


OUTLOOKS = tuple(Outlook)
FACTOR_EFFECTS = tuple(FactorEffect)
STEPS = tuple(StepName)
