"""gunicorn settings: `make serve`, or `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

Environment: HOST and PORT (default 127.0.0.1:5000), WEB_CONCURRENCY (worker processes;
default one per CPU), WEB_THREADS (threads per worker, default 4; 1 gives sync workers;
each process keeps as many database connections, at least 5: AFTERCARE_DB_POOL_SIZE is set
from it unless given), AFTERCARE_TRUSTED_PROXIES (how many proxies stand in front:
with 0, forwarded headers are ignored; with 1 or more, they are trusted, so the port must
be reachable only through the proxy). See docs/operations.md.
"""

import multiprocessing
import os

from surveys.config import parse_trusted_proxies
from surveys.web.serving import ACCESS_LOG_FORMAT

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
# One process per CPU with four threads each (gthread). Measured with the participant load
# on two cores (docs/performance.md): 2 x 4 threads served 1.7 to 2 times the participants
# of 5 sync workers on SQLite and 1.4 times on PostgreSQL, with 20 to 30% less CPU per
# participant (every sync worker wakes for every new connection; threads wait on the
# database and Redis without a process each).
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
threads = int(os.environ.get("WEB_THREADS") or 4)
worker_class = "gthread" if threads > 1 else "sync"
# One pooled database connection per thread, so no thread waits for one or opens and closes
# an overflow connection per request (read by the app in each worker, surveys/db.py).
os.environ.setdefault("AFTERCARE_DB_POOL_SIZE", str(max(5, threads)))
# A request waits at most 10 s for the database (surveys/db.py) and then gets a 503; the
# worker timeout is well above that, so it only catches a worker that is truly stuck.
timeout = 30
graceful_timeout = 30
keepalive = 2
# Recycle workers now and then; jitter keeps them from restarting together.
max_requests = 20000
max_requests_jitter = 2000
# Workers are forked from a master that has loaded the app, so a new worker (after
# max_requests, or after one died) serves at once instead of importing everything on the
# cores the others are serving from. Measured (docs/performance.md): participants arriving
# at 40/s on SQLite, a submit p99 of 12 ms without recycling, 720 ms (max 2.7 s) with four
# recycles when each new worker loaded the app itself.
preload_app = True


def post_fork(server, worker):
    """Each worker opens its own database connections: none the master may have opened
    is shared between processes (Redis clients reconnect after a fork by themselves)."""
    engine = worker.app.wsgi().extensions.get("aftercare.engine")
    if engine is not None:
        engine.dispose(close=False)

# Requests larger than this never reach the app (it refuses bodies over 1 MB itself).
limit_request_line = 4094
limit_request_fields = 100

# gunicorn's control socket is one path per user: several instances on one host (two apps,
# tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
access_log_format = ACCESS_LOG_FORMAT
logger_class = "surveys.web.serving.AccessLogger"

# Forwarded headers (X-Forwarded-For, -Proto) are honoured only behind a proxy that is
# declared; the app's ProxyFix takes the client address from the same number of hops.
forwarded_allow_ips = "*" if parse_trusted_proxies(
    os.environ.get("AFTERCARE_TRUSTED_PROXIES")) else ""
