"""Approval requests: ask for one, approve it (and so grant) or reject it, list them.

Asking and approving lock what granting locks (see `service.app.grants`), and the offer;
rejecting locks the offer. The request and the offer are read again once the locks are
held, so two approvers never both decide it, and the offer moves only by the state machine
(`service.domain.offer_states`): a rejected offer is final, asked for and granted by nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.app.errors import Conflict, Forbidden, NeedsApproval, NotFound
from service.app.grants import (
    check_combination,
    check_move,
    give,
    locked_offer,
    move,
    running_totals,
    to_grant,
)
from service.domain.grant_rule import approver_role, clears_abuse, rank, reasons_to_refer
from service.domain.offer_states import OfferEvent
from service.domain.principal import Principal
from service.domain.records import ApprovalItem, ApprovalRequest, Grant
from service.domain.vocabulary import RequestState
from service.policy.model import Policy
from service.store import clock, keyset
from service.store.database import Store
from service.store.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ApprovalAsked:
    request: ApprovalRequest
    created: bool  # False when the request was already pending


@dataclass(frozen=True)
class Approved:
    request: ApprovalRequest
    grant: Grant


@dataclass(frozen=True)
class ApprovalPage:
    status: RequestState | None  # None: every state (the caller's own requests)
    items: tuple[ApprovalItem, ...]
    next_cursor: str | None
    as_of: datetime  # when the page was read: each request's age is counted to it
    requested_by: str | None = None  # the caller, when the page lists their own requests

    @property
    def requests(self) -> tuple[ApprovalRequest, ...]:
        return tuple(item.request for item in self.items)


def request_approval(uow: UnitOfWork, policy: Policy, principal: Principal, offer_id: str,
                     note: str | None) -> ApprovalAsked:
    """Ask the lowest role whose limits cover the offer; the pending request if there is
    one already. Nobody asks for a granted or rejected offer."""
    offer, decision = locked_offer(uow, offer_id, principal)
    pending = uow.approvals.pending_for(offer.id)
    if pending is not None:
        return ApprovalAsked(pending, created=False)
    check_move(uow, offer, OfferEvent.ASK)
    check_combination(uow, policy, offer)
    moment = clock.now()
    role = policy.roles[principal.role]
    totals = running_totals(uow, policy, principal, offer, decision, moment)
    reasons = reasons_to_refer(role, to_grant(offer), totals, policy)
    approver = approver_role(policy, role, to_grant(offer), totals)
    if approver is None:
        raise NeedsApproval(None, reasons or ["no role's limits cover it"])
    request = uow.approvals.add(
        offer.id, approver, reasons or ["requested although within the caller's limits"],
        principal, moment, note)
    move(uow, offer, OfferEvent.ASK, moment)
    return ApprovalAsked(request, created=True)


def _pending(uow: UnitOfWork, request_id: str) -> ApprovalRequest:
    request = uow.approvals.get(request_id)
    if request is None:
        raise NotFound(f"No approval request {request_id!r}.")
    if request.status != RequestState.PENDING:
        raise Conflict(f"Approval request {request_id} is already {request.status}.")
    return request


def _may_decide(policy: Policy, principal: Principal, request: ApprovalRequest) -> None:
    if principal.id == request.requested_by:
        raise Forbidden("Nobody approves or rejects their own request.")
    needed = request.approver_role
    if needed not in policy.escalation:
        # Filed under a version that had this role (in the moment before a worker followed
        # the activation of one without it): the top of today's chain decides it.
        needed = policy.escalation[-1]
    if rank(policy, principal.role) < rank(policy, needed):
        raise Forbidden(f"This request needs {needed} or above; you are {principal.role}.")


def _requested(uow: UnitOfWork, request_id: str) -> ApprovalRequest:
    request = uow.approvals.get(request_id)
    if request is None:
        raise NotFound(f"No approval request {request_id!r}.")
    return request


def approve(uow: UnitOfWork, policy: Policy, principal: Principal,
            request_id: str, note: str | None = None) -> Approved:
    """Grant the offer as the approver, within the approver's own limits and daily budget,
    and past the abuse signal only when the approver ranks above the requester (or is
    another person of the top role): a colleague of the same rank approves only what they
    could grant themselves. The approver's note, if any, is kept as the request's
    `decision_reason`."""
    offer, decision = locked_offer(uow, _requested(uow, request_id).offer_id, principal)
    request = _pending(uow, request_id)
    _may_decide(policy, principal, request)
    check_move(uow, offer, OfferEvent.GRANT)
    check_combination(uow, policy, offer)
    moment = clock.now()
    role = policy.roles[principal.role]
    totals = running_totals(uow, policy, principal, offer, decision, moment)
    reasons = reasons_to_refer(role, to_grant(offer), totals, policy, include_abuse=not (
        clears_abuse(policy, principal.role, request.requested_role)))
    if reasons:
        raise NeedsApproval(approver_role(policy, role, to_grant(offer), totals), reasons)
    grant = give(uow, policy, offer, decision, principal, moment, approving=request)
    request = uow.approvals.close(request, RequestState.APPROVED, principal.id, moment,
                                  reason=note)
    return Approved(request, grant)


def reject(uow: UnitOfWork, policy: Policy, principal: Principal, request_id: str,
           reason: str) -> ApprovalRequest:
    """Reject a pending request, and so its offer, for good."""
    offer, _ = locked_offer(uow, _requested(uow, request_id).offer_id, None)
    request = _pending(uow, request_id)
    _may_decide(policy, principal, request)
    moment = clock.now()
    move(uow, offer, OfferEvent.REJECT, moment)
    return uow.approvals.close(request, RequestState.REJECTED, principal.id, moment,
                               reason=reason)


def list_approvals(store: Store, policy: Policy, principal: Principal,
                   status: RequestState | None, limit: int, cursor: str | None = None,
                   mine: bool = False) -> ApprovalPage:
    """Oldest first, a page at a time, each with its offer and decision. `mine`: the
    caller's own requests, in `status` or (None) every state. Otherwise requests in `status`
    (pending when None), pending ones only where the caller's role may approve them and
    others asked for them.
    Raises keyset.CursorInvalid for a cursor this service did not give."""
    position = keyset.decode(cursor, ("approvals",))
    status = None if status is None and mine else RequestState(status or RequestState.PENDING)
    roles = None
    not_by = None
    if status == RequestState.PENDING and not mine:
        not_by = principal.id  # nobody decides their own request
        own_rank = rank(policy, principal.role)
        if own_rank < rank(policy, policy.escalation[-1]):
            roles = [role for role in policy.escalation if rank(policy, role) <= own_rank]
        # else the top role: every request, those filed for a role the policy no longer
        # has included (the top of the chain decides them, as _may_decide says)
    requested_by = principal.id if mine else None
    with UnitOfWork(store, snapshot=True) as uow:
        as_of = clock.now()
        requests, following = uow.approvals.page(status, roles, position["approvals"], limit,
                                                 requested_by=requested_by, not_by=not_by)
    return ApprovalPage(status, tuple(requests), keyset.encode({"approvals": following}),
                        as_of, requested_by)
