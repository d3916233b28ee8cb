"""Approval requests: asking, deciding, and the lists approvers work through."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from service.domain.money import Money, from_minor
from service.domain.principal import Principal
from service.domain.records import ApprovalItem, ApprovalRequest
from service.domain.vocabulary import Outlook, RequestState
from service.store import clock, keyset
from service.store.models import ApprovalRequestRow, DecisionRow, OfferRow

REQUESTS = ApprovalRequestRow.__table__
OFFERS = OfferRow.__table__
DECISIONS = DecisionRow.__table__

_INSERT = insert(REQUESTS)
_BY_ID = select(REQUESTS).where(REQUESTS.c.id == bindparam("request_id"))
_PENDING_FOR = select(REQUESTS).where(REQUESTS.c.offer_id == bindparam("offer_id"),
                                      REQUESTS.c.status == RequestState.PENDING.value)
_OF_DECISION = (select(REQUESTS).where(REQUESTS.c.offer_id.in_(
    select(OFFERS.c.id).where(OFFERS.c.decision_id == bindparam("decision_id"))))
    .order_by(REQUESTS.c.requested_at))
_CLOSE = update(REQUESTS).where(REQUESTS.c.id == bindparam("request_id")).values(
    status=bindparam("status"), decided_by=bindparam("decided_by"),
    decided_at=bindparam("decided_at"), decision_reason=bindparam("reason"),
    note=bindparam("note"))
# A request with what is asked for: the offer, and the decision it belongs to.
_ITEMS = (select(REQUESTS, OFFERS.c.remedy, OFFERS.c.amount_minor, OFFERS.c.currency,
                 OFFERS.c.decision_id, DECISIONS.c.incident_id, DECISIONS.c.customer_id,
                 DECISIONS.c.order_id, DECISIONS.c.outlook)
          .join(OFFERS, OFFERS.c.id == REQUESTS.c.offer_id)
          .join(DECISIONS, DECISIONS.c.id == OFFERS.c.decision_id))


def _request(row: Row) -> ApprovalRequest:
    note, reason = row.note, row.decision_reason
    if row.status == RequestState.PENDING and note is None and reason is not None:
        # Filed by an Amends from before migration 0005 still serving after the upgrade:
        # its requester's note is where that Amends kept it (nobody has decided it yet).
        note, reason = reason, None
    return ApprovalRequest(
        id=row.id, offer_id=row.offer_id, status=RequestState(row.status),
        approver_role=row.approver_role, reasons=tuple(row.reasons),
        requested_by=row.requested_by, requested_role=row.requested_role,
        requested_at=clock.aware(row.requested_at), decided_by=row.decided_by,
        decided_at=None if row.decided_at is None else clock.aware(row.decided_at),
        note=note, decision_reason=reason)


def _item(row: Row) -> ApprovalItem:
    return ApprovalItem(
        request=_request(row), remedy=row.remedy,
        value=Money(from_minor(row.amount_minor, row.currency), row.currency),
        decision_id=row.decision_id, incident_id=row.incident_id,
        customer_id=row.customer_id, order_id=row.order_id, outlook=Outlook(row.outlook))


class ApprovalQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def get(self, request_id: str) -> ApprovalRequest | None:
        """Read afresh each time: call it again after taking locks."""
        row = self._connection.execute(_BY_ID, {"request_id": request_id}).one_or_none()
        return None if row is None else _request(row)

    def pending_for(self, offer_id: str) -> ApprovalRequest | None:
        row = self._connection.execute(_PENDING_FOR, {"offer_id": offer_id}).one_or_none()
        return None if row is None else _request(row)

    def add(self, offer_id: str, approver_role: str, reasons: list[str],
            requested_by: Principal, moment: datetime, note: str | None) -> ApprovalRequest:
        """A pending request; the database keeps one pending request per offer."""
        request = ApprovalRequest(
            id=str(uuid.uuid4()), offer_id=offer_id, status=RequestState.PENDING,
            approver_role=approver_role, reasons=tuple(reasons), requested_by=requested_by.id,
            requested_role=requested_by.role, requested_at=moment, note=note)
        self._connection.execute(_INSERT, dict(
            id=request.id, offer_id=offer_id, status=request.status,
            approver_role=approver_role, reasons=list(reasons), requested_by=request.requested_by,
            requested_role=request.requested_role, requested_at=moment, note=note))
        return request

    def close(self, request: ApprovalRequest, status: RequestState, decided_by: str,
              moment: datetime, reason: str | None = None) -> ApprovalRequest:
        """Approve, reject, or close as granted (the offer granted directly), with the
        decider's reason if any; the requester's note stays as read (`_request`)."""
        closed = replace(request, status=status, decided_by=decided_by, decided_at=moment,
                         decision_reason=reason)
        self._connection.execute(_CLOSE, {
            "request_id": request.id, "status": status, "decided_by": decided_by,
            "decided_at": moment, "reason": reason, "note": request.note})
        return closed

    def of_decision(self, decision_id: str) -> list[ApprovalRequest]:
        """The requests on a decision's offers, oldest first."""
        return [_request(row) for row in
                self._connection.execute(_OF_DECISION, {"decision_id": decision_id})]

    def page(self, status: RequestState | None, approver_roles: Collection[str] | None,
             position: keyset.Position, limit: int, requested_by: str | None = None,
             not_by: str | None = None) -> tuple[list[ApprovalItem], keyset.Position]:
        """A page of requests, oldest first, each with its offer and decision: in `status`
        when given; only those whose approver role is one of `approver_roles` when given;
        only those `requested_by` asked for when given; none `not_by` asked for."""
        query = _ITEMS
        if status is not None:
            query = query.where(REQUESTS.c.status == status)
        if approver_roles is not None:
            query = query.where(REQUESTS.c.approver_role.in_(list(approver_roles)))
        if requested_by is not None:
            query = query.where(REQUESTS.c.requested_by == requested_by)
        if not_by is not None:
            query = query.where(REQUESTS.c.requested_by != not_by)
        rows, following = keyset.page(self._connection, query, REQUESTS.c.requested_at,
                                      REQUESTS.c.id, position, limit, newest_first=False)
        return [_item(row) for row in rows], following
