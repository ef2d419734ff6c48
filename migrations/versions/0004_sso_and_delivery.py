"""Single sign-on accounts, the delivery setting, and the outbox channel.

Accounts made or taken over by single sign-on carry the provider's issuer and subject. The
organisation's delivery setting ("email", "slack" or "both") lives in ``org_setting``. Each
outbox message says how it goes out (``channel``); everything queued before is email.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["changed_by"], ["user_account.id"],
                                name=op.f("org_setting_changed_by_fkey"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("key", name=op.f("org_setting_pkey")),
    )
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=8), server_default="email",
                                      nullable=False))
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(sa.Column("sso_issuer", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("sso_subject", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("user_account_sso_issuer_sso_subject_key"), ["sso_issuer", "sso_subject"])


def downgrade() -> None:
    # The older code sends everything by email: a Slack message not yet sent becomes an
    # email, unless the same message also goes by email ("both"), then it is cancelled.
    op.execute(
        "UPDATE outbox_message SET status = 'cancelled', claim = NULL, lease_until = NULL, "
        "last_error = 'Slack delivery removed by a downgrade' "
        "WHERE channel = 'slack' AND status IN ('pending', 'sending') AND EXISTS ("
        "SELECT 1 FROM outbox_message AS other WHERE other.channel = 'email' "
        "AND other.kind = outbox_message.kind "
        "AND other.invitation_id = outbox_message.invitation_id)")
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_constraint(batch_op.f("user_account_sso_issuer_sso_subject_key"),
                                 type_="unique")
        batch_op.drop_column("sso_subject")
        batch_op.drop_column("sso_issuer")
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_column("channel")
    op.drop_table("org_setting")
