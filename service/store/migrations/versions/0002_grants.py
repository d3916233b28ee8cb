"""Grants, approval requests, outcomes and idempotency keys.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("offer_id", sa.String(80), sa.ForeignKey("offers.id"), nullable=False,
                  unique=True),
        sa.Column("decision_id", sa.String(64), sa.ForeignKey("decisions.id"), nullable=False,
                  index=True),
        sa.Column("customer_id", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=False),
        sa.Column("remedy", sa.String(64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("approval_request_id", sa.String(64), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_grants_customer_time", "grants", ["customer_id", "granted_at"])
    op.create_index("ix_grants_principal_time", "grants", ["principal", "granted_at"])
    op.create_index("ix_grants_order", "grants", ["order_id"])
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("offer_id", sa.String(80), sa.ForeignKey("offers.id"), nullable=False,
                  index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approver_role", sa.String(64), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_role", sa.String(64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(2000), nullable=True),
    )
    op.create_index("ux_approval_pending_offer", "approval_requests", ["offer_id"], unique=True,
                    sqlite_where=sa.text("status = 'pending'"),
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "outcomes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("decision_id", sa.String(64), sa.ForeignKey("decisions.id"), nullable=False,
                  index=True),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("satisfied", sa.Boolean, nullable=True),
        sa.Column("stayed", sa.Boolean, nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("outcomes")
    op.drop_index("ux_approval_pending_offer", "approval_requests")
    op.drop_table("approval_requests")
    op.drop_index("ix_grants_order", "grants")
    op.drop_index("ix_grants_principal_time", "grants")
    op.drop_index("ix_grants_customer_time", "grants")
    op.drop_table("grants")
