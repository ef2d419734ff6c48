"""Outbox leases: several senders share the queue without sending a message twice.

A sender claims due messages (status ``sending``, a random ``claim``, ``lease_until``) and
records each outcome as the mail server answers; a dead sender's messages return to the
queue when the lease runs out.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("claim", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # The older code knows no "sending": whatever was claimed goes back to the queue.
    op.execute("UPDATE outbox_message SET status = 'pending' WHERE status = 'sending'")
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claim")
