"""Baseline: the schema as ``create_all`` made it before migrations existed.

``flask --app app db upgrade`` on a database made by the old ``init-db`` marks it as this
revision and goes on from here; on an empty database it creates every table.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("signing_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("api_key_pkey")),
        sa.UniqueConstraint("key_hash", name=op.f("api_key_key_hash_key")),
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
        sa.PrimaryKeyConstraint(
            "scope",
            "scope_value",
            "period",
            "cut",
            "cut_value",
            "item",
            "value",
            name=op.f("period_count_pkey"),
        ),
    )
    op.create_table(
        "release_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cells", sa.Text(), nullable=False),
        sa.Column("numbers", sa.Text(), nullable=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("k", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("release_record_pkey")),
        sa.UniqueConstraint("subject", name=op.f("release_record_subject_key")),
    )
    op.create_index(op.f("ix_release_record_allowed"), "release_record", ["allowed"], unique=False)
    op.create_table(
        "seen_signature",
        sa.Column("signature_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("signature_hash", name=op.f("seen_signature_pkey")),
    )
    op.create_index(
        op.f("ix_seen_signature_expires_at"), "seen_signature", ["expires_at"], unique=False
    )
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["team.id"], name=op.f("team_parent_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("team_pkey")),
        sa.UniqueConstraint("slug", name=op.f("team_slug_key")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("totp_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("user_account_pkey")),
        sa.UniqueConstraint("email", name=op.f("user_account_email_key")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("audit_event_user_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("audit_event_pkey")),
    )
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"], unique=False)
    op.create_index(op.f("ix_audit_event_at"), "audit_event", ["at"], unique=False)
    op.create_index(op.f("ix_audit_event_user_id"), "audit_event", ["user_id"], unique=False)
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("system_changes", sa.SmallInteger(), nullable=True),
        sa.Column("repeat", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("incident_team_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("incident_pkey")),
        sa.UniqueConstraint("external_id", name=op.f("incident_external_id_key")),
    )
    op.create_table(
        "password_reset",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("password_reset_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("password_reset_pkey")),
    )
    op.create_index(op.f("ix_password_reset_user_id"), "password_reset", ["user_id"], unique=False)
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("person_team_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("person_pkey")),
        sa.UniqueConstraint("email", name=op.f("person_email_key")),
    )
    op.create_table(
        "policy_state",
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("in_force", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["user_account.id"], name=op.f("policy_state_changed_by_fkey")
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("policy_state_pkey")),
    )
    op.create_table(
        "recovery_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("recovery_code_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("recovery_code_pkey")),
    )
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"], unique=False)
    op.create_table(
        "user_team",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("user_team_team_id_fkey"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("user_team_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "team_id", name=op.f("user_team_pkey")),
    )
    op.create_table(
        "survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opens_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("remind_at", sa.DateTime(), nullable=False),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("min_group", sa.SmallInteger(), nullable=False),
        sa.Column("practice_ids", sa.String(length=400), nullable=False),
        sa.Column("invited", sa.Integer(), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("survey_incident_id_fkey")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("survey_team_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("survey_pkey")),
        sa.UniqueConstraint("incident_id", name=op.f("survey_incident_id_key")),
    )
    op.create_table(
        "ballot",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("spent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"], name=op.f("ballot_survey_id_fkey")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("ballot_pkey")),
    )
    op.create_index(op.f("ix_ballot_survey_id"), "ballot", ["survey_id"], unique=False)
    op.create_table(
        "checkin_request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("contact_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("checkin_request_survey_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("checkin_request_pkey")),
        sa.UniqueConstraint("nonce_hash", name=op.f("checkin_request_nonce_hash_key")),
    )
    op.create_index(
        op.f("ix_checkin_request_survey_id"), "checkin_request", ["survey_id"], unique=False
    )
    op.create_table(
        "comment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"], name=op.f("comment_survey_id_fkey")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("comment_team_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("comment_pkey")),
    )
    op.create_index(op.f("ix_comment_survey_id"), "comment", ["survey_id"], unique=False)
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token_cipher", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("invitation_person_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("invitation_survey_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("invitation_pkey")),
        sa.UniqueConstraint(
            "survey_id", "person_id", name=op.f("invitation_survey_id_person_id_key")
        ),
    )
    op.create_table(
        "period_fold",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("period_fold_survey_id_fkey")
        ),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("period_fold_pkey")),
    )
    op.create_table(
        "response",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("involvement", sa.String(length=16), nullable=False),
        sa.Column("blame_system", sa.SmallInteger(), nullable=True),
        sa.Column("blame_person", sa.SmallInteger(), nullable=True),
        sa.Column("blame_career", sa.SmallInteger(), nullable=True),
        sa.Column("social_treated", sa.SmallInteger(), nullable=True),
        sa.Column("social_hesitate", sa.SmallInteger(), nullable=True),
        sa.Column("social_support", sa.SmallInteger(), nullable=True),
        sa.Column("sharing_own", sa.SmallInteger(), nullable=True),
        sa.Column("sharing_free", sa.SmallInteger(), nullable=True),
        sa.Column("lead_shared", sa.SmallInteger(), nullable=True),
        sa.Column("practice_author", sa.SmallInteger(), nullable=True),
        sa.Column("practice_named", sa.SmallInteger(), nullable=True),
        sa.Column("practice_followups", sa.SmallInteger(), nullable=True),
        sa.Column("practice_root_cause", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"], name=op.f("response_survey_id_fkey")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("response_team_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("response_pkey")),
    )
    op.create_index(op.f("ix_response_survey_id"), "response", ["survey_id"], unique=False)
    op.create_table(
        "sealed_count",
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("cut", sa.String(length=16), nullable=False),
        sa.Column("cut_value", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=48), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("sealed_count_survey_id_fkey")
        ),
        sa.PrimaryKeyConstraint(
            "survey_id", "cut", "cut_value", "item", "value", name=op.f("sealed_count_pkey")
        ),
    )
    op.create_table(
        "staged_answer",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("involvement", sa.String(length=16), nullable=False),
        sa.Column("blame_system", sa.SmallInteger(), nullable=True),
        sa.Column("blame_person", sa.SmallInteger(), nullable=True),
        sa.Column("blame_career", sa.SmallInteger(), nullable=True),
        sa.Column("social_treated", sa.SmallInteger(), nullable=True),
        sa.Column("social_hesitate", sa.SmallInteger(), nullable=True),
        sa.Column("social_support", sa.SmallInteger(), nullable=True),
        sa.Column("sharing_own", sa.SmallInteger(), nullable=True),
        sa.Column("sharing_free", sa.SmallInteger(), nullable=True),
        sa.Column("lead_shared", sa.SmallInteger(), nullable=True),
        sa.Column("practice_author", sa.SmallInteger(), nullable=True),
        sa.Column("practice_named", sa.SmallInteger(), nullable=True),
        sa.Column("practice_followups", sa.SmallInteger(), nullable=True),
        sa.Column("practice_root_cause", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("staged_answer_survey_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("staged_answer_pkey")),
    )
    op.create_index(
        op.f("ix_staged_answer_survey_id"), "staged_answer", ["survey_id"], unique=False
    )
    op.create_table(
        "staged_comment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("staged_comment_survey_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("staged_comment_pkey")),
    )
    op.create_index(
        op.f("ix_staged_comment_survey_id"), "staged_comment", ["survey_id"], unique=False
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["invitation.id"], name=op.f("outbox_message_invitation_id_fkey")
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["survey.id"], name=op.f("outbox_message_survey_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("outbox_message_pkey")),
    )
    op.create_index(
        op.f("ix_outbox_message_invitation_id"), "outbox_message", ["invitation_id"], unique=False
    )
    op.create_index(op.f("ix_outbox_message_status"), "outbox_message", ["status"], unique=False)
    op.create_index(
        op.f("ix_outbox_message_survey_id"), "outbox_message", ["survey_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_message_survey_id"), table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_status"), table_name="outbox_message")
    op.drop_index(op.f("ix_outbox_message_invitation_id"), table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_index(op.f("ix_staged_comment_survey_id"), table_name="staged_comment")
    op.drop_table("staged_comment")
    op.drop_index(op.f("ix_staged_answer_survey_id"), table_name="staged_answer")
    op.drop_table("staged_answer")
    op.drop_table("sealed_count")
    op.drop_index(op.f("ix_response_survey_id"), table_name="response")
    op.drop_table("response")
    op.drop_table("period_fold")
    op.drop_table("invitation")
    op.drop_index(op.f("ix_comment_survey_id"), table_name="comment")
    op.drop_table("comment")
    op.drop_index(op.f("ix_checkin_request_survey_id"), table_name="checkin_request")
    op.drop_table("checkin_request")
    op.drop_index(op.f("ix_ballot_survey_id"), table_name="ballot")
    op.drop_table("ballot")
    op.drop_table("survey")
    op.drop_table("user_team")
    op.drop_index(op.f("ix_recovery_code_user_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    op.drop_table("policy_state")
    op.drop_table("person")
    op.drop_index(op.f("ix_password_reset_user_id"), table_name="password_reset")
    op.drop_table("password_reset")
    op.drop_table("incident")
    op.drop_index(op.f("ix_audit_event_user_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_at"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_action"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_table("user_account")
    op.drop_table("team")
    op.drop_index(op.f("ix_seen_signature_expires_at"), table_name="seen_signature")
    op.drop_table("seen_signature")
    op.drop_index(op.f("ix_release_record_allowed"), table_name="release_record")
    op.drop_table("release_record")
    op.drop_table("period_count")
    op.drop_table("api_key")
