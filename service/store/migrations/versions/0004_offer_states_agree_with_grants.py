"""Offer states agree with grant rows (issue 9): repair what earlier versions could leave.

Before offers had one state machine, granting an offer directly while its approval request
was pending left the request pending for ever, and rejecting that request afterwards marked
a granted offer `rejected`. Now a grant closes a pending request as `granted` (by whoever
granted) and a granted offer stays granted; this brings stored rows to the same rule. No
schema change. Downgrading leaves the repaired rows as they are.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_GRANT_OF_OFFER = "FROM grants WHERE grants.offer_id = {table}.{column}"


def upgrade() -> None:
    offers = _GRANT_OF_OFFER.format(table="offers", column="id")
    op.execute(
        "UPDATE offers SET state = 'granted', "
        f"state_changed_at = (SELECT grants.granted_at {offers}) "
        f"WHERE state <> 'granted' AND EXISTS (SELECT 1 {offers})")
    requests = _GRANT_OF_OFFER.format(table="approval_requests", column="offer_id")
    op.execute(
        "UPDATE approval_requests SET status = 'granted', "
        f"decided_by = (SELECT grants.principal {requests}), "
        f"decided_at = (SELECT grants.granted_at {requests}) "
        f"WHERE status = 'pending' AND EXISTS (SELECT 1 {requests})")


def downgrade() -> None:
    pass  # a repair of data: nothing to undo
