"""The requester's note and the decider's reason kept apart (issue 10).

Until now `approval_requests.decision_reason` held the requester's note, and a rejection
overwrote it with the rejection's reason (an approval's note was never stored). A new column
`note` holds the requester's note; `decision_reason` holds only the decider's reason. Stored
rows: a pending, approved or granted request's `decision_reason` was the requester's note,
so it moves to `note`; a rejected one's is the rejection's reason and stays, and its
requester's note was overwritten then and is lost (`note` is null). An index serves the
lists of one requester's own requests.

Downgrading puts the requester's note back where it was for requests not rejected (an
approval's note is dropped, as it was never kept before; a rejection's reason stays) and drops
the column and the index.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("approval_requests", sa.Column("note", sa.String(2000), nullable=True))
    op.execute("UPDATE approval_requests SET note = decision_reason, decision_reason = NULL "
               "WHERE status <> 'rejected'")
    op.create_index("ix_approval_requests_requester", "approval_requests",
                    ["requested_by", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_approval_requests_requester", table_name="approval_requests")
    op.execute("UPDATE approval_requests SET decision_reason = note "
               "WHERE status <> 'rejected'")
    op.drop_column("approval_requests", "note")
