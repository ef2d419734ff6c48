"""Running Aftercare: health probes, a 503 (never a 500) while the database is away, settings
from the environment, the secret key under concurrent start-up, the access log, the port
hint of `make run`, and the exit status of `outbox flush`."""

from __future__ import annotations

import logging
import multiprocessing
import re
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from support import build_org, open_survey
from support.app import POSTGRES_URL, make_app
from support.smtp import free_port
from surveys import db as dbmod
from surveys.config import ENV_KEYS, ConfigError, load_secret_key
from surveys.web.serving import ACCESS_LOG_FORMAT, AccessLogger, check_port

ROOT = Path(__file__).resolve().parents[2]
DEAD_DATABASE = "postgresql://postgres@127.0.0.1:9/aftercare"  # nothing listens on port 9


# --- probes -------------------------------------------------------------------------------


def test_healthz_and_readyz_when_all_is_well(client):
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "revision": dbmod.head_revision()}
    assert "Set-Cookie" not in alive.headers and "Set-Cookie" not in ready.headers


def test_readyz_refuses_until_migrations_have_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = dbmod.make_engine(url)
    dbmod.upgrade(engine, dbmod.BASELINE)
    app = make_app(url)  # migrates a copy only when the file is new: this one stays behind
    dbmod.downgrade(engine, dbmod.BASELINE)
    client = app.test_client()
    pending = client.get("/readyz")
    assert pending.status_code == 503
    assert "db upgrade" in pending.get_json()["reason"]
    assert client.get("/healthz").status_code == 200  # alive, just not ready
    dbmod.upgrade(engine)
    assert client.get("/readyz").status_code == 200
    engine.dispose()
    dbmod.get_engine(app).dispose()


def test_unreachable_database_gives_503_everywhere_never_500(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'unused.db'}", DATABASE_URL=DEAD_DATABASE)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["reason"] == "database unreachable"
    client.get("/s/" + "A" * 43)
    page = client.get("/s")
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert "try again in a minute" in page.text and "Traceback" not in page.text
    form = client.post("/s", data={"csrf_token": "x"})
    assert form.status_code in (400, 503)  # the CSRF check may come first; never a 500
    login = client.get("/login")
    assert login.status_code in (200, 503)
    api = client.get("/api/v1/surveys/1", headers={"Authorization": "Bearer ack_" + "k" * 43})
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "database_unavailable"


@pytest.mark.postgres
def test_a_connection_that_dies_mid_request_is_discarded_not_a_500(postgres_url):
    """The trace of the trial: the connection died under a request, and closing its session
    (a rollback) raised in teardown, escaping the app's error handling."""
    app = make_app(postgres_url)
    admin = create_engine(dbmod.make_engine(POSTGRES_URL).url)

    @app.get("/_test/kill-my-connection")
    def kill_my_connection():
        session = dbmod.get_session()
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return "done"  # the session's transaction is open on a dead connection

    client = app.test_client()
    try:
        assert client.get("/_test/kill-my-connection").status_code == 200
        assert client.get("/readyz").status_code == 200  # the pool replaced the connection
        with app.app_context():
            session = dbmod.get_session()
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with admin.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            dbmod.close_quietly(session)  # no exception
    finally:
        admin.dispose()
        dbmod.get_engine(app).dispose()


# --- configuration from the environment ---------------------------------------------------


def test_limits_and_switches_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AFTERCARE_LIMIT_API", "2 per minute")
    app = make_app(f"sqlite:///{tmp_path / 'env.db'}")
    codes = [app.test_client().get("/api/v1/surveys/1").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    monkeypatch.setenv("RATELIMIT_ENABLED", "0")
    off = make_app(f"sqlite:///{tmp_path / 'env.db'}")
    assert off.config["RATELIMIT_ENABLED"] is False
    assert {off.test_client().get("/api/v1/surveys/1").status_code for _ in range(4)} == {401}
    monkeypatch.setenv("RATELIMIT_ENABLED", "perhaps")
    with pytest.raises(ConfigError, match="RATELIMIT_ENABLED"):
        make_app(f"sqlite:///{tmp_path / 'env.db'}")


def test_session_and_proxy_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AFTERCARE_SESSION_IDLE", "5m")
    monkeypatch.setenv("AFTERCARE_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("AFTERCARE_RETENTION_DAYS", "400")
    app = make_app(f"sqlite:///{tmp_path / 'env.db'}")
    assert app.config["AFTERCARE_SESSION_IDLE"] == timedelta(minutes=5)
    assert app.extensions["aftercare.settings"].retention_days == 400
    assert type(app.wsgi_app).__name__ == "ProxyFix"
    monkeypatch.setenv("AFTERCARE_RETENTION_DAYS", "a year")
    with pytest.raises(ConfigError, match="AFTERCARE_RETENTION_DAYS"):
        make_app(f"sqlite:///{tmp_path / 'env.db'}")


def test_the_readme_lists_every_setting_read_from_the_environment():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Command line")]
    listed = set(re.findall(r"`((?:AFTERCARE|DATABASE|RATELIMIT)_[A-Z_]+)`", table))
    assert listed == set(ENV_KEYS) | {"AFTERCARE_SECRET_KEY"}


def _load_key(folder: str, queue) -> None:
    queue.put(load_secret_key(Path(folder)))


def test_workers_starting_together_share_one_generated_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("AFTERCARE_SECRET_KEY", raising=False)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_load_key, args=(str(tmp_path), queue))
                 for _ in range(8)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(20)
    keys = {queue.get(timeout=5) for _ in processes}
    assert len(keys) == 1 and len(keys.pop()) >= 48
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


# --- serving ------------------------------------------------------------------------------


def _atoms(path: str, query: str = "") -> dict:
    logger = AccessLogger.__new__(AccessLogger)

    class Response:
        status = "303 See Other"
        sent = 10
        headers = [("Location", "/s")]

    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"{path}?{query}" if query else path,
               "PATH_INFO": path, "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "203.0.113.7", "HTTP_REFERER": f"https://x.example{path}",
               "HTTP_COOKIE": "session=abc"}
    request_time = timedelta(milliseconds=3)
    return logger.atoms(Response(), {"Cookie": "session=abc"}, environ, request_time)


def test_access_log_masks_links_drops_queries_and_participant_addresses():
    token = "Kf0" + "x" * 40
    line = ACCESS_LOG_FORMAT % _atoms(f"/s/{token}", "utm=1&email=a@b.example")
    assert token not in line and "/s/[link]" in line
    assert "utm" not in line and "a@b.example" not in line and "203.0.113.7" not in line
    manager = _atoms("/incidents/4", "page=2")
    assert manager["h"] == "203.0.113.7" and manager["r"] == "GET /incidents/4 HTTP/1.1"
    assert not [k for k in manager if k.startswith("{")]  # no header, cookie or environ atoms


def test_the_app_log_filter_handles_gunicorn_records(caplog):
    """gunicorn logs access lines with a dict of atoms; the app's filter must keep it a dict
    (a tuple there made every access line a logging error)."""
    from surveys.web.logs import MaskSurveyLinks

    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                               '%(h)s "%(r)s"', ({"h": "-", "r": "GET /s/abcdefabcdef"},),
                               None)
    assert MaskSurveyLinks().filter(record)
    assert record.getMessage() == '- "GET /s/[link]"'


def test_busy_port_gives_a_one_line_hint():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hint = check_port("127.0.0.1", port)
        assert hint is not None and "\n" not in hint and f"PORT={port + 55} make run" in hint
        run = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "surveys.web.serving",
                              "check-port", "127.0.0.1", str(port)], capture_output=True,
                             text=True, cwd=ROOT, timeout=30)
        assert run.returncode == 1 and "already in use" in run.stderr
    assert check_port("127.0.0.1", port) is None


def test_make_run_and_serve_take_the_port_from_the_environment():
    dry = subprocess.run(["make", "-n", "run", "serve"], capture_output=True, text=True,
                         cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PORT": "5055"}, timeout=30)
    assert dry.returncode == 0, dry.stderr
    assert "--port 5055" in dry.stdout and "PORT=5055" in dry.stdout
    assert "db upgrade" in dry.stdout and "gunicorn -c gunicorn.conf.py" in dry.stdout


# --- outbox flush for cron ----------------------------------------------------------------


def test_outbox_flush_exits_1_when_mail_is_left_unsent(tmp_path, box):
    app = make_app(f"sqlite:///{tmp_path / 'cron.db'}",
                   AFTERCARE_MAIL=f"smtp://127.0.0.1:{free_port()}")
    with dbmod.session_scope(app) as session:
        build_org(session)
        open_survey(session, app.extensions["aftercare.settings"], box, people=3)
    down = app.test_cli_runner().invoke(args=["outbox", "flush"])
    assert down.exit_code == 1 and "waiting for the mail server 3" in down.output
    files = make_app(f"sqlite:///{tmp_path / 'cron.db'}",
                     AFTERCARE_MAIL=f"file://{tmp_path / 'mail'}")
    sent = files.test_cli_runner().invoke(args=["outbox", "flush"])
    assert sent.exit_code == 0 and "mail sent 3" in sent.output
    nothing = files.test_cli_runner().invoke(args=["outbox", "flush"])
    assert nothing.exit_code == 0


# --- sanity of the fixtures the rest relies on ---------------------------------------------


def test_each_test_database_starts_migrated_and_empty(app, db):
    with dbmod.get_engine(app).connect() as connection:
        assert dbmod.current_revision(connection) == dbmod.head_revision()
    assert db.execute(text("SELECT count(*) FROM survey")).scalar_one() == 0
