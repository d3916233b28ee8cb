"""What the store keeps and hands back, as plain values: no rows, no JSON.

The use cases read and write these through a unit of work; the web layer presents them.
Moments are timezone-aware UTC; money is Decimal with its currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from service.domain.decision import Decision
from service.domain.money import Money
from service.domain.policy_terms import (
    Entitlement,
    Factor,
    RemedyProposalTerms,
    Step,
    Withdrawal,
)
from service.domain.vocabulary import (
    Approval,
    OfferSource,
    OfferState,
    OfferVariant,
    Outlook,
    RequestState,
)


def offer_id(decision_id: str, number: int) -> str:
    """An offer's id: its decision's id and its number, so an id tells where it belongs."""
    return f"{decision_id}.{number}"


def is_offer_of(offer_id: str, decision_id: str) -> bool:
    """Whether `offer_id` names an offer of `decision_id` (whether it exists or not)."""
    head, dot, number = offer_id.rpartition(".")
    return bool(dot) and head == decision_id and number.isdigit()


@dataclass(frozen=True)
class TracedRule:
    """A rule as a stored decision remembers it: what fired, not what it said to do."""

    id: str
    description: str
    priority: int
    factors: tuple[Factor, ...] = ()
    steps: tuple[Step, ...] = ()
    remedies: tuple[RemedyProposalTerms, ...] = ()
    entitlements: tuple[Entitlement, ...] = ()
    withdrawals: tuple[Withdrawal, ...] = ()
    first_of: str | None = None


@dataclass(frozen=True)
class StoredOffer:
    """An offer as recorded, with what has become of it since."""

    id: str
    decision_id: str
    number: int
    remedy: str
    value: Money
    variant: OfferVariant
    source: OfferSource
    approval: Approval
    approver_role: str | None
    state: OfferState
    state_changed_at: datetime


@dataclass(frozen=True)
class StoredDecision:
    """A recorded decision: the core's answer, its offers' ids and states, and who asked."""

    id: str
    decision: Decision
    offers: tuple[StoredOffer, ...]  # by number, one per offer of `decision`
    decided_at: datetime
    customer_id: str
    order_id: str
    principal: str
    request: Mapping[str, object]  # the incident as sent

    @property
    def offer_ids(self) -> dict[int, str]:
        return {offer.number: offer.id for offer in self.offers}


@dataclass(frozen=True)
class KnownIncident:
    """What the store knows before an incident is decided."""

    prior_failures: int  # the customer's decisions within the history window
    decided: bool  # this incident id was decided before


@dataclass(frozen=True)
class DecidedIncident:
    """The decision that answered an incident id, and the fingerprint of the request."""

    decision_id: str
    request_fingerprint: str


@dataclass(frozen=True)
class DecisionRef:
    """What granting needs to know of a decision: whom and what it concerns."""

    id: str
    customer_id: str
    order_id: str


@dataclass(frozen=True)
class DecisionSummary:
    """A decision as a customer's history lists it."""

    id: str
    incident_id: str
    decided_at: datetime
    order_id: str
    category: str | None
    severity: int | None
    outlook: Outlook
    policy_name: str
    policy_version: str
    principal: str
    role: str
    offers: tuple[StoredOffer, ...]


@dataclass(frozen=True)
class Grant:
    """Money or goods actually given."""

    id: str
    offer_id: str
    decision_id: str
    customer_id: str
    order_id: str
    remedy: str
    value: Money
    principal: str
    role: str
    approval_request_id: str | None
    granted_at: datetime


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    offer_id: str
    status: RequestState
    approver_role: str
    reasons: tuple[str, ...]
    requested_by: str
    requested_role: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None  # the requester's note, kept as asked
    decision_reason: str | None = None  # the decider's: a rejection's reason, an approval's note


@dataclass(frozen=True)
class ApprovalItem:
    """An approval request as the lists show it: with what is asked for and for whom."""

    request: ApprovalRequest
    remedy: str
    value: Money
    decision_id: str
    incident_id: str
    customer_id: str
    order_id: str
    outlook: Outlook


@dataclass(frozen=True)
class Outcome:
    """What became of a decision: accepted, satisfied, stayed."""

    id: str
    decision_id: str
    accepted: bool
    satisfied: bool | None
    stayed: bool | None
    note: str | None
    principal: str
    recorded_at: datetime


@dataclass(frozen=True)
class Answer:
    """An answer as first given (a status and its document), kept for an Idempotency-Key.

    The web layer renders it; the store keeps it; the use cases only pass it on."""

    status: int
    document: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class KeptAnswer:
    """The answer kept for an Idempotency-Key, and the fingerprint of its request."""

    request_fingerprint: str
    answer: Answer


@dataclass(frozen=True)
class RefusedReload:
    """A policy version refused on reload, and why; the last one is shown with the policy."""

    version: str | None  # None when the folder could not even be read
    at: datetime
    trigger: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PolicyActivation:
    """One activation of a policy version: the last one names the version every worker of
    every instance serves."""

    version: str
    activated_by: str
    via: str  # how: api, SIGHUP, start, cli
    activated_at: datetime


@dataclass(frozen=True)
class StoredPolicyVersion:
    """An activated policy version as the database keeps it: its files, name by name."""

    version: str
    name: str
    files: Mapping[str, str]  # file name -> text
    activated_by: str  # who first activated it, and when
    activated_at: datetime


@dataclass(frozen=True)
class OpenWork:
    """Stored work a new policy version must still be able to finish, counted by what a
    version could remove: roles, currencies, remedy kinds."""

    pending_by_approver_role: Mapping[str, int] = field(default_factory=dict)
    pending_by_requester_role: Mapping[str, int] = field(default_factory=dict)
    # offers still open: proposed or awaiting approval, less those a grant on their decision
    # excludes whatever the policy (one of their kind, or of their capped pair's other)
    open_offers_by_currency: Mapping[str, int] = field(default_factory=dict)
    open_offers_by_remedy: Mapping[str, int] = field(default_factory=dict)
    # grants on decisions with offers still open: granting one of those looks the kind up
    grants_beside_open_offers_by_remedy: Mapping[str, int] = field(default_factory=dict)
    # every grant: running totals count them, in any currency (an order's cap for good)
    grants_by_currency: Mapping[str, int] = field(default_factory=dict)
