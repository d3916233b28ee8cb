"""Decisions by the time they were decided: the workbench reads periods of them (replay,
reports, the audit export) in `(decided_at, id)` order, which no index served (only
`customer_id, decided_at`).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_decided_at", table_name="decisions")
