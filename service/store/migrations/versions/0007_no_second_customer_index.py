"""Decisions lose the index on `customer_id` alone: `(customer_id, decided_at)` serves every
lookup by customer (its first column), and each index is one more page written, and synced,
with every decision stored.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_decisions_customer_id", table_name="decisions")


def downgrade() -> None:
    op.create_index("ix_decisions_customer_id", "decisions", ["customer_id"])
