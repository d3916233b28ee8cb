"""Decisions lose the index on `order_id`: no query looks decisions up by order (the
per-order cap sums grants, which have an index of their own; the report of the orders with
the most incidents reads a period through `(decided_at, id)`), and each index is one more
page written, and synced, with every decision stored.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_decisions_order_id", table_name="decisions")


def downgrade() -> None:
    op.create_index("ix_decisions_order_id", "decisions", ["order_id"])
