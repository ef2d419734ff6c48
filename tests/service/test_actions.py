"""Actions from flags: recording (one transaction with its audit event), bad input named by
field, status changes, the change in the construct since the action from released figures
only, HR's counts across teams, and the reminder to the recorder through the outbox."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from support import AFTER_Q4, decide_periods
from support.actions import OCT, SEPT, flagged_payments, new_action, worse_fourth_quarter
from surveys.errors import InvalidInput, NotVisible
from surveys.mail.backends import FileBackend
from surveys.mail.outbox import flush
from surveys.mail.render import render_email
from surveys.models import Action, AuditEvent, OutboxMessage, Team, User
from surveys.services import actions


def _user(db, email):
    return db.scalar(select(User).where(User.email == email))


def _team(db, slug):
    return db.scalar(select(Team).where(Team.slug == slug))


def test_flags_of_a_team_carry_their_construct(db, org, settings, box):
    flag = flagged_payments(db, settings, box)
    assert flag.record.startswith("exposure:") and flag.period == "2026-08"
    assert flag.construct == "social"
    assert actions.team_flags(db, _team(db, "platform").id) == []
    assert actions.construct_of("policy_gap", "blameless") == "blame"
    assert actions.construct_of("policy_gap", "support_offered") == "social"
    assert actions.construct_of("policy_gap", "separate_tracks") == "blame"
    assert actions.construct_of("worsening_trend", "Payments: leadership modelling") == \
        "leadership"


def test_record_and_change_status_with_audit(db, org, settings, box):
    flag = flagged_payments(db, settings, box)
    manager = _user(db, "manager@example.org")
    row = actions.record_action(db, manager, new_action(flag), SEPT)
    assert (row.status, row.construct, row.period, row.recorded_by) == (
        "open", "blame", "2026-08", manager.id)
    actions.set_status(db, manager, row.id, "done", SEPT + timedelta(days=3))
    db.rollback()
    row = db.get(Action, row.id)
    assert row.status == "done" and row.done_on == date(2026, 9, 13)
    events = db.scalars(select(AuditEvent.action).where(
        AuditEvent.target == f"action:{row.id}").order_by(AuditEvent.id)).all()
    assert events == ["action.record", "action.status"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"text": "   "}, "text"),
    ({"due_on": date(2026, 9, 9)}, "due_on"),
    ({"due_on": None}, "due_on"),
    ({"owner": "person:payments0@example.org"}, "owner"),
    ({"owner": "payments0@example.org"}, "owner"),
    ({"owner": "team:nowhere"}, "owner"),
    ({"team": "platform"}, "flag"),  # Payments' flag answered for Platform
    ({"flag": "team:1:2026-Q3|policy_gap|blameless"}, "flag"),
    ({"construct": "mood"}, "construct"),
])
def test_bad_input_is_named_by_field(db, org, settings, box, changes, field):
    flag = flagged_payments(db, settings, box)
    with pytest.raises(InvalidInput) as caught:
        actions.record_action(db, _user(db, "hr@example.org"),
                              new_action(flag, **changes), SEPT)
    assert field in caught.value.fields
    assert db.scalar(select(func.count()).select_from(Action)) == 0


def test_a_manager_of_another_team_cannot_record(db, org, settings, box):
    flag = flagged_payments(db, settings, box)
    from surveys.services import admin
    admin.add_user(db, "other@example.org", "Other", "correct horse battery", "manager",
                   ["platform"])
    with pytest.raises(NotVisible):
        actions.record_action(db, _user(db, "other@example.org"), new_action(flag), SEPT)


def test_owner_may_be_a_team(db, org, settings, box):
    flag = flagged_payments(db, settings, box)
    row = actions.record_action(db, None, new_action(flag, owner="team:platform"), SEPT,
                                actor_label="api-key:1")
    assert row.owner == "team:platform" and row.recorder_label == "api-key:1"
    (view,) = actions.team_actions(db, _team(db, "payments").id, SEPT)
    assert view.owner == "Platform (team)"


def test_change_since_the_action_from_released_figures(db, org, settings, box):
    flag = flagged_payments(db, settings, box)
    decide_periods(db, settings, datetime(2026, 10, 1, 0, 5, tzinfo=UTC))  # 2026 Q3 ends
    row = actions.record_action(db, _user(db, "manager@example.org"),
                                new_action(flag, due_on=date(2026, 10, 20)), OCT)
    team_id = _team(db, "payments").id
    (waiting,) = actions.team_actions(db, team_id, OCT)
    assert waiting.change.points is None and "2026 Q4 has ended" in waiting.change.words
    worse_fourth_quarter(db, settings, box)
    decide_periods(db, settings, AFTER_Q4)
    (view,) = actions.team_actions(db, team_id, AFTER_Q4)
    assert view.id == row.id
    assert (view.change.before_period, view.change.after_period) == ("2026-Q3", "2026-Q4")
    # Q3: blame_system, blame_person and blame_career all favourable for all six: 100%.
    # Q4: blame_person at Agree for all six: (100 + 0 + 100) / 3.
    assert view.change.before == pytest.approx(100.0)
    assert view.change.after == pytest.approx(200 / 3)
    assert view.change.points == pytest.approx(-100 / 3)
    assert view.change.words.startswith("Perceived blame: -33 points")


def test_a_held_back_figure_stays_not_enough_people(db, org, settings, box):
    flag = flagged_payments(db, settings, box)
    early = actions.record_action(db, _user(db, "manager@example.org"), new_action(flag),
                                  SEPT)
    decide_periods(db, settings, datetime(2026, 10, 1, 0, 5, tzinfo=UTC))
    actions.record_action(db, _user(db, "manager@example.org"),
                          new_action(flag, due_on=date(2026, 10, 20)), OCT)
    quiet = dataclasses.replace(settings, survey_limit=None)
    from support.organisation import run_survey, uniform
    run_survey(db, quiet, box, team="payments", at=datetime(2026, 11, 2, 9, tzinfo=UTC),
               rows=uniform(3), people=4, title="Small")
    decide_periods(db, settings, AFTER_Q4)
    views = {v.id: v for v in actions.team_actions(db, _team(db, "payments").id, AFTER_Q4)}
    # recorded in Q3: nothing released for Q2 (no answers) to compare with
    assert views.pop(early.id).change.words == "No released figure for 2026 Q2 to compare."
    # recorded in Q4: Q3 released, Q4 held back (3 answers): not enough people
    (later,) = views.values()
    assert later.change.words == "not enough people" and later.change.points is None
    assert later.change.before == pytest.approx(100.0) and later.change.after is None


def test_hr_summary_counts_across_teams(db, org, settings, box):
    flag = flagged_payments(db, settings, box)
    before = actions.summary(db, SEPT.date())
    assert before.flags >= 1 and before.flags_with_action == 0
    manager = _user(db, "manager@example.org")
    first = actions.record_action(db, manager, new_action(flag), SEPT)
    second = actions.record_action(db, manager, new_action(flag, text="Pair people on on-call."),
                                   SEPT)
    actions.set_status(db, manager, first.id, "done", SEPT + timedelta(days=5))  # on time
    actions.set_status(db, manager, second.id, "done", datetime(2026, 10, 5, tzinfo=UTC))
    after = actions.summary(db, date(2026, 10, 6))
    assert after.flags_with_action == 1 and after.flags == before.flags
    assert (after.actions, after.done, after.done_on_time, after.overdue) == (2, 2, 1, 0)


def test_reminder_to_the_recorder_when_due(app, db, org, settings, box, tmp_path):
    flag = flagged_payments(db, settings, box)
    manager = _user(db, "manager@example.org")
    row = actions.record_action(db, manager, new_action(flag), SEPT)
    api = actions.record_action(db, None, new_action(flag, text="Pair people on on-call."),
                                SEPT, actor_label="api-key:1")
    assert actions.queue_reminders(db, datetime(2026, 9, 30, tzinfo=UTC)) == 0
    due = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    assert actions.queue_reminders(db, due) == 1  # the API's has no account to write to
    assert actions.queue_reminders(db, due) == 0  # once
    message = db.scalar(select(OutboxMessage).where(OutboxMessage.action_id == row.id))
    assert message.kind == "action_due" and message.invitation_id is None
    assert api.id != row.id
    backend = FileBackend(tmp_path / "mail", "aftercare@example.org")
    with app.app_context():
        report = flush(db, backend, box, render_email, "https://aftercare.example.org",
                       "seed", due)
    assert report.sent == 1
    (sent,) = list((tmp_path / "mail").iterdir())
    body = sent.read_text()
    assert "To: manager@example.org" in body
    assert "Action due: Rotate the incident commander role" in body
    assert "https://aftercare.example.org/teams/payments#actions" in body


def test_no_reminder_once_done(app, db, org, settings, box, tmp_path):
    flag = flagged_payments(db, settings, box)
    manager = _user(db, "manager@example.org")
    row = actions.record_action(db, manager, new_action(flag), SEPT)
    due = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    assert actions.queue_reminders(db, due) == 1
    actions.set_status(db, manager, row.id, "done", due)
    with app.app_context():
        report = flush(db, FileBackend(tmp_path / "mail", "a@example.org"), box, render_email,
                       "https://aftercare.example.org", "seed", due)
    assert report.sent == 0 and report.cancelled == 1


def test_concurrent_ticks_queue_one_reminder(database_url):
    """Two workers ticking at once (threads, each its own session) queue each due action's
    reminder once: SQLite's write lock, PostgreSQL's row locks (SKIP LOCKED)."""
    import threading

    from support import SECRET, build_org
    from support.app import make_app
    from surveys import db as dbmod
    from surveys.tokens import TokenBox

    app = make_app(database_url)
    try:
        with dbmod.session_scope(app) as db:
            build_org(db)
            settings = app.extensions["aftercare.settings"]
            flag = flagged_payments(db, settings, TokenBox(SECRET))
            manager = _user(db, "manager@example.org")
            for i in range(20):
                actions.record_action(db, manager, new_action(flag, text=f"Change {i}."), SEPT)
        due = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
        queued: list[int] = []
        barrier = threading.Barrier(2)

        def tick():
            with dbmod.session_scope(app) as session:
                barrier.wait()
                queued.append(actions.queue_reminders(session, due))

        threads = [threading.Thread(target=tick) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sum(queued) == 20
        with dbmod.session_scope(app) as db:
            assert db.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.kind == "action_due")) == 20
            assert db.scalar(select(func.count(func.distinct(OutboxMessage.action_id)))) == 20
    finally:
        dbmod.get_engine(app).dispose()


def test_hr_summary_counts_flags_decided_after_it_was_last_read(db, org, settings, box):
    from surveys.services import releases

    assert actions.summary(db, SEPT.date()).flags == 0  # read (and kept) before any decision
    flagged_payments(db, settings, box)
    keys = releases.flag_keys(db, ("team", "checkins", "exposure", "survey"))
    assert keys and all(k[0].split(":")[0] in ("team", "checkins", "exposure", "survey")
                        for k in keys)
    assert actions.summary(db, SEPT.date()).flags == len(keys) >= 1
