"""Tables. Money is stored as integer minor units with its currency: exact on every database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service.domain.vocabulary import OfferState


class Base(DeclarativeBase):
    pass


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(100), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(100))  # ix_decisions_customer_decided
    order_id: Mapped[str] = mapped_column(String(100))  # no index: nothing looks it up (0008)
    currency: Mapped[str] = mapped_column(String(3))
    principal: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    policy_name: Mapped[str] = mapped_column(String(100))
    policy_version: Mapped[str] = mapped_column(String(64))
    outlook: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_decisions_customer_decided", "customer_id", "decided_at"),
                      Index("ix_decisions_decided_at", "decided_at", "id"))


class OfferRow(Base):
    __tablename__ = "offers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    remedy: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    variant: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    approval: Mapped[str] = mapped_column(String(16))
    approver_role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=OfferState.PROPOSED)
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GrantRow(Base):
    """Money or goods actually given: the record running totals are summed from."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), unique=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[str] = mapped_column(String(100))
    remedy: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    principal: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    approval_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_grants_customer_time", "customer_id", "granted_at"),
        Index("ix_grants_principal_time", "principal", "granted_at"),
        Index("ix_grants_order", "order_id"),
    )


class ApprovalRequestRow(Base):
    __tablename__ = "approval_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # pending approved rejected
    approver_role: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list] = mapped_column(JSON)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_role: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The decider's reason (a rejection's, an approval's note); the requester's is `note`.
    decision_reason: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)

    __table_args__ = (
        # One pending request per offer, enforced by the database.
        Index("ux_approval_pending_offer", "offer_id", unique=True,
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_approval_requests_requester", "requested_by", "requested_at"),
        # The approval queue's pages, oldest first, of one status or of all (0009).
        Index("ix_approval_requests_status_time", "status", "requested_at", "id"),
        Index("ix_approval_requests_time", "requested_at", "id"),
    )


class OutcomeRow(Base):
    __tablename__ = "outcomes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.id"), index=True)
    accepted: Mapped[bool] = mapped_column(Boolean)
    satisfied: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    stayed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    principal: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyRow(Base):
    """A response kept for an `Idempotency-Key`, per principal."""

    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyVersionRow(Base):
    """Every policy version ever activated, with its files: what every worker loads."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)  # the content hash
    name: Mapped[str] = mapped_column(String(100))
    files: Mapped[dict] = mapped_column(JSON)  # file name -> text
    activated_by: Mapped[str] = mapped_column(String(200))  # first activation
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyActivationRow(Base):
    """Activations, in order: the last one names the active version."""

    __tablename__ = "policy_activations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(ForeignKey("policy_versions.version"))
    activated_by: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PolicyRefusalRow(Base):
    """Attempts to activate a version that were refused, with every reason."""

    __tablename__ = "policy_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reasons: Mapped[list] = mapped_column(JSON)
    refused_by: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(300))
    refused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
