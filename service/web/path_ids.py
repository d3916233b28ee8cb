"""Ids a request carries outside its body, checked before any view runs: a path id that no
stored row could have (a NUL character, an unpaired surrogate, longer than its column) is a
422 naming the path parameter, and an `Idempotency-Key` that could not be stored a 400. So
such a value never reaches the database, which would refuse it or store it differently."""

from __future__ import annotations

from flask import Flask, request

from service.domain.fields import text_fault
from service.store.models import ApprovalRequestRow, DecisionRow, OfferRow, PolicyVersionRow
from service.web.errors import MalformedRequest, PathInvalid

# path parameter -> the column it is looked up in
PATH_IDS = {
    "decision_id": DecisionRow.__table__.c.id,
    "offer_id": OfferRow.__table__.c.id,
    "request_id": ApprovalRequestRow.__table__.c.id,
    "customer_id": DecisionRow.__table__.c.customer_id,
    "version": PolicyVersionRow.__table__.c.version,
    "old_version": PolicyVersionRow.__table__.c.version,
    "new_version": PolicyVersionRow.__table__.c.version,
}


def id_fault(value: str, column) -> str | None:
    """Why no row could have `value` in `column`, or None."""
    if len(value) > column.type.length:
        return f"At most {column.type.length} characters: nothing stored has a longer id."
    return text_fault(value)


def check_request_ids() -> None:
    asked = request._get_current_object()  # the proxy once (Speed, issue 14)
    errors = {name: [fault] for name, value in (asked.view_args or {}).items()
              if name in PATH_IDS and isinstance(value, str)
              and (fault := id_fault(value, PATH_IDS[name]))}
    if errors:
        raise PathInvalid(errors)
    key = asked.headers.get("Idempotency-Key")
    fault = text_fault(key) if key is not None else None
    if fault:
        raise MalformedRequest(f"Idempotency-Key: {fault}")


def register(app: Flask) -> None:
    app.before_request(check_request_ids)
