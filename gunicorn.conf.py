"""gunicorn settings: `make serve`, or `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

Environment: HOST and PORT (default 127.0.0.1:5000), WEB_CONCURRENCY (worker processes;
default two per CPU plus one), AFTERCARE_TRUSTED_PROXIES (how many proxies stand in front:
with 0, forwarded headers are ignored; with 1 or more, they are trusted, so the port must
be reachable only through the proxy). See docs/operations.md.
"""

import multiprocessing
import os

from surveys.config import parse_trusted_proxies
from surveys.web.serving import ACCESS_LOG_FORMAT

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
# A request waits at most 10 s for the database (surveys/db.py) and then gets a 503; the
# worker timeout is well above that, so it only catches a worker that is truly stuck.
timeout = 30
graceful_timeout = 30
keepalive = 2
# Recycle workers now and then; jitter keeps them from restarting together.
max_requests = 20000
max_requests_jitter = 2000
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
