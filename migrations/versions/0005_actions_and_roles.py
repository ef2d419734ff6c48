"""The two-track practice check, incident participants' roles, and actions from flags.

* ``staged_answer`` and ``response`` gain ``practice_consequences``, the practice check of
  the two-track review policy (an item is a column on purpose: answers are never key/value
  bags).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ANSWER_TABLES = ("staged_answer", "response")


def upgrade() -> None:
    for table in ANSWER_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("practice_consequences", sa.SmallInteger(),
                                          nullable=True))


def downgrade() -> None:
    for table in ANSWER_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("practice_consequences")
