"""Release decisions recorded at fixed moments: period_decision replaces the period fold.

Figures are decided when a survey closes and when a calendar period ends, and pages read the
recorded decisions; the period totals that page views used to fold (``period_count``,
``period_fold``) are gone. After the upgrade the first tick decides every closed survey
without a recorded decision and every ended period; decisions recorded before stay as they
are (they were published).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "period_decision",
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("period_decision_pkey")),
    )
    op.drop_table("period_count")
    op.drop_table("period_fold")


def downgrade() -> None:
    # The older code folds closed surveys into period_count again on its next page view.
    op.create_table(
        "period_fold",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"],
                                name=op.f("period_fold_survey_id_fkey")),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("period_fold_pkey")),
    )
    op.create_table(
        "period_count",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("scope_value", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("cut", sa.String(length=16), nullable=False),
        sa.Column("cut_value", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=48), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "scope_value", "period", "cut", "cut_value", "item",
                                "value", name=op.f("period_count_pkey")),
    )
    op.drop_table("period_decision")
