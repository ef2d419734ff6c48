"""Real processes for the load benchmark and the process and fault tests: gunicorn with the
repository's ``gunicorn.conf.py``, ``flask worker``, a private PostgreSQL cluster, and seeded
surveys whose links a load generator can play.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(database_url: str, secret: str, **extra: str) -> dict[str, str]:
    """The environment of an Aftercare process: the given database and secret, no settings
    inherited from the caller's AFTERCARE_* variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AFTERCARE_", "DATABASE_URL", "RATELIMIT_"))}
    env.update({"DATABASE_URL": database_url, "AFTERCARE_SECRET_KEY": secret,
                "AFTERCARE_OPEN_DELAY": "0", "AFTERCARE_SURVEY_LIMIT": "0",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM, or killed."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=dict(env), stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        """Process ids of the direct children (gunicorn's workers)."""
        try:
            raw = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in raw.split()]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by this process and its children, the ones
        still running (gunicorn's workers) and the ones it has reaped."""
        tick = os.sysconf("SC_CLK_TCK")

        def stat(pid: int, fields: slice) -> float:
            try:
                raw = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                return 0.0
            values = raw.rsplit(")", 1)[1].split()  # fields from the 3rd on
            return sum(int(v) for v in values[fields]) / tick

        # utime, stime (fields 14, 15) and cutime, cstime (16, 17) of the process itself
        return stat(self.pid, slice(11, 15)) + sum(stat(c, slice(11, 13))
                                                   for c in self.children())

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._log.close()


def services_cpu_seconds() -> float:
    """CPU time (user + system) used so far by this machine's PostgreSQL and Redis: every
    running ``postgres`` and ``redis-server`` process, plus the backends PostgreSQL's
    postmaster has reaped. The app's database work shares the cores with it; the anchor
    uses neither."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm not in ("postgres", "redis-server"):
                continue
            values = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent = values[1]
        try:
            reaper = (Path("/proc") / parent / "comm").read_text().strip() != "postgres"
        except OSError:
            reaper = True
        # utime, stime; the postmaster's cutime, cstime hold its reaped backends
        total += sum(int(v) for v in values[11:15 if comm == "postgres" and reaper else 13])
    return total / tick


def wait_for(url: str, timeout: float = 60.0, process: Process | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"process exited early:\n{process.output()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback)
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def gunicorn(env: Mapping[str, str], log: Path, *, app: str = "app:create_app()",
             workers: int | None = None, port: int | None = None,
             ready_path: str = "/healthz") -> Iterator[tuple[Process, int]]:
    """gunicorn with gunicorn.conf.py on a free port; yields (process, port)."""
    port = port or free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    if workers is not None:
        env["WEB_CONCURRENCY"] = str(workers)
    process = Process([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), app],
                      env, log)
    try:
        wait_for(f"http://127.0.0.1:{port}{ready_path}", process=process)
        yield process, port
    finally:
        process.stop()


def start_worker(env: Mapping[str, str], log: Path, *args: str) -> Process:
    return Process([str(BIN / "flask"), "--app", "app", "worker", *args], env, log)


# --- seeding ---------------------------------------------------------------------------


def seed(database_url: str, secret: str, surveys: int, people: int,
         now: datetime | None = None, team: str = "payments") -> list[list[str]]:
    """Migrate the database, then create ``surveys`` open surveys of ``people`` invitees
    each (opening now, by the real clock unless ``now``); return their links' tokens."""
    from app import create_app
    from surveys import db as dbmod
    from surveys.models import Invitation, Team
    from surveys.services import admin, lifecycle

    app = create_app({"SECRET_KEY": secret, "DATABASE_URL": database_url,
                      "AFTERCARE_OPEN_DELAY": "0", "AFTERCARE_SURVEY_LIMIT": "0"})
    engine = dbmod.get_engine(app)
    dbmod.upgrade(engine)
    now = now or datetime.now(UTC)
    settings = app.extensions["aftercare.settings"]
    box = app.extensions["aftercare.token_box"]
    out: list[list[str]] = []
    with app.app_context(), dbmod.session_scope(app) as session:
        if session.scalar(select(Team.id).where(Team.slug == team)) is None:
            admin.add_team(session, team, team.title())
        for _ in range(surveys):
            batch = secrets.token_hex(4)
            data = lifecycle.NewIncident(
                team=team, title=f"Load {batch}", kind="availability", severity="sev3",
                closed_at=now - timedelta(hours=1),
                participants=[f"p{i}-{batch}@example.org" for i in range(people)],
                open_delay=timedelta(0), duration=timedelta(days=7))
            survey = lifecycle.create_incident(session, data, settings, box, now)
            ciphers = session.scalars(select(Invitation.token_cipher).where(
                Invitation.survey_id == survey.id))
            out.append([box.open(c) for c in ciphers])
    engine.dispose()
    return out


# --- a private PostgreSQL cluster --------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary directory, its own port), for
    tests that restart the database without disturbing anyone else's."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = found[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="aftercare-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._user:
            shutil.chown(self.folder, "postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self._user, *args], check=True, capture_output=True, timeout=timeout)

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                      "-U", "postgres", "--no-sync")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c max_connections=100", "start")
        return self

    def restart(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-m", "fast", "-w", "-t", "60", "restart")

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
