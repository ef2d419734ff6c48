"""The two-track practice check, incident participants' roles, and actions from flags.

* ``staged_answer`` and ``response`` gain ``practice_consequences``, the practice check of
  the two-track review policy (an item is a column on purpose: answers are never key/value
  bags).
* ``incident_participant``: everyone listed on an incident, with an optional role
  (commander, responder, ...), for the teams' exposure figures. Incident metadata only: no
  answer table refers to it. Filled from the invitations of incidents entered before.
* ``team_action``: what a team will change in answer to a flag (owner a role or a team,
  never a person), and ``outbox_message.action_id`` for the reminder to its recorder when it
  is due.

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
    op.create_table(
        "incident_participant",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"],
                                name=op.f("incident_participant_incident_id_fkey"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"],
                                name=op.f("incident_participant_person_id_fkey"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id", "person_id",
                                name=op.f("incident_participant_pkey")),
    )
    op.create_index(op.f("ix_incident_participant_person_id"), "incident_participant",
                    ["person_id"], unique=False)
    op.create_table(
        "team_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("flag_record", sa.String(length=200), nullable=False),
        sa.Column("flag_kind", sa.String(length=32), nullable=False),
        sa.Column("flag_subject", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("construct", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorder_label", sa.String(length=254), nullable=False),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["recorded_by"], ["user_account.id"],
                                name=op.f("team_action_recorded_by_fkey"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("team_action_team_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("team_action_pkey")),
    )
    op.create_index(op.f("ix_team_action_team_id"), "team_action", ["team_id"], unique=False)
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("action_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_message_action_id"), ["action_id"],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f("outbox_message_action_id_fkey"), "team_action",
                                    ["action_id"], ["id"], ondelete="CASCADE")
    op.execute(
        "INSERT INTO incident_participant (incident_id, person_id, role) "
        "SELECT DISTINCT survey.incident_id, invitation.person_id, NULL "
        "FROM invitation JOIN survey ON survey.id = invitation.survey_id")


def downgrade() -> None:
    # An action reminder not sent yet stays queued: the older code finds no invitation for
    # it and cancels it ("survey closed before sending"); nothing else is lost but actions.
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_constraint(batch_op.f("outbox_message_action_id_fkey"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_message_action_id"))
        batch_op.drop_column("action_id")
    op.drop_index(op.f("ix_team_action_team_id"), table_name="team_action")
    op.drop_table("team_action")
    op.drop_index(op.f("ix_incident_participant_person_id"), table_name="incident_participant")
    op.drop_table("incident_participant")
    for table in ANSWER_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("practice_consequences")
