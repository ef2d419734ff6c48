"""The two-track practice check, incident participants' roles, and actions from flags.

* ``staged_answer`` and ``response`` gain ``practice_consequences``, the practice check of
  the two-track review policy (an item is a column on purpose: answers are never key/value
  bags).
* ``incident_participant``: everyone listed on an incident, with an optional role
  (commander, responder, ...), for the teams' exposure figures. Incident metadata only: no
  answer table refers to it. Filled from the invitations of incidents entered before.

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
    op.execute(
        "INSERT INTO incident_participant (incident_id, person_id, role) "
        "SELECT DISTINCT survey.incident_id, invitation.person_id, NULL "
        "FROM invitation JOIN survey ON survey.id = invitation.survey_id")


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_participant_person_id"), table_name="incident_participant")
    op.drop_table("incident_participant")
    for table in ANSWER_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("practice_consequences")
