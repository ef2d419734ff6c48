"""Serving helpers: gunicorn's access logger and the port check of ``make run``/``make serve``.

The access log (``gunicorn.conf.py``) carries no query string, no token and no client
address for participant pages: ``/s/<token>`` is written ``/s/[link]`` (as are reset and
opt-out links), the request line is rebuilt from the path alone, and header, cookie and
environment atoms are dropped, so a changed ``access_log_format`` cannot bring them back.
"""

from __future__ import annotations

import errno
import socket
import sys

from gunicorn.glogging import Logger

from surveys.web.logs import mask_links

# Paths whose requests are a participant's: logged without the client address, so that the
# access log cannot tell which address answered when.
PARTICIPANT_PREFIXES = ("/s", "/checkin", "/optout")
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


def is_participant_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PARTICIPANT_PREFIXES)


class AccessLogger(Logger):
    """gunicorn's logger with the access atoms made safe (see the module docstring)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = mask_links(environ.get("PATH_INFO") or "")
        safe = {key: value for key, value in atoms.items() if not key.startswith("{")}
        safe.update({
            "U": path,
            "q": "",
            "r": f"{atoms.get('m')} {path} {atoms.get('H')}",
            "f": "-",
            "a": "-",
        })
        if is_participant_path(environ.get("PATH_INFO") or ""):
            safe["h"] = "-"
        return safe


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def check_port(host: str, port: int, command: str = "make run") -> str | None:
    """A one-line hint when ``port`` is taken, else None."""
    if not port_in_use(host, port):
        return None
    return (f"Port {port} on {host} is already in use (another `{command}`?); "
            f"pick another one: PORT={port + 55 if port < 65480 else 5055} {command}")


def main(argv: list[str]) -> int:
    """``python -m surveys.web.serving check-port HOST PORT [COMMAND]``: exit 1 with a hint."""
    if len(argv) < 4 or argv[1] != "check-port" or not argv[3].isdigit():
        print("usage: python -m surveys.web.serving check-port HOST PORT [COMMAND]",
              file=sys.stderr)
        return 2
    hint = check_port(argv[2], int(argv[3]), argv[4] if len(argv) > 4 else "make run")
    if hint:
        print(hint, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
