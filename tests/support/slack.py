"""A Slack Web API stand-in on 127.0.0.1 for the Slack delivery tests.

It speaks the documented wire format of the methods Aftercare calls, so the real
``slack_sdk`` client talks to it through its ``base_url``: ``POST /api/<method>`` with a
bearer token and a form or JSON body; answers ``{"ok": true, ...}``, or HTTP 200 with
``{"ok": false, "error": "invalid_auth" | "users_not_found" | ...}``, or HTTP 429 with
``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``. Methods:
``auth.test`` (with ``X-OAuth-Scopes``), ``users.lookupByEmail``, ``conversations.open``,
``chat.postMessage``. Failures are played on cue from ``script``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from support.smtp import free_port

TOKEN = "xoxb-test-token-for-the-loopback-stand-in"
SCOPES = "chat:write,im:write,users:read,users:read.email"


@dataclass
class Post:
    channel: str
    text: str
    unfurl_links: object
    unfurl_media: object


@dataclass
class Workspace:
    """The stand-in's state: who is in Slack, what was posted, every call, and the script.

    ``script[method]`` is a list consumed one entry per call of that method: ``None`` answers
    normally, ``("429", seconds)`` rate-limits, ``("500", None)`` is an HTTP 500, and any
    other string is returned as ``{"ok": false, "error": <it>}``.
    """

    users: dict[str, str] = field(default_factory=dict)  # email -> user id
    token: str = TOKEN
    script: dict[str, list] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *emails: str) -> None:
        for email in emails:
            self.users[email.lower()] = f"U{len(self.users) + 1:07d}"

    def posted_to(self, email: str) -> list[Post]:
        user = self.users[email.lower()]
        return [p for p in self.posts if p.channel == f"D{user}"]


class _Handler(BaseHTTPRequestHandler):
    workspace: Workspace

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _params(self) -> dict:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind = self.headers.get("Content-Type", "")
        if body and kind.startswith("application/json"):
            params.update(json.loads(body))
        elif body:
            params.update(dict(parse_qsl(body.decode())))
        return params

    def _answer(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.do_POST()

    def do_POST(self) -> None:  # noqa: N802
        ws = self.workspace
        method = urlsplit(self.path).path.removeprefix("/api/")
        params = self._params()
        with ws.lock:
            ws.calls.append(method)
            script = ws.script.get(method)
            cue = script.pop(0) if script else None
        if isinstance(cue, tuple) and cue[0] == "429":
            return self._answer(429, {"ok": False, "error": "ratelimited"},
                                {"Retry-After": str(cue[1])})
        if isinstance(cue, tuple) and cue[0] == "500":
            return self._answer(500, {"ok": False, "error": "internal_error"})
        if isinstance(cue, str):
            return self._answer(200, {"ok": False, "error": cue})
        if self.headers.get("Authorization") != f"Bearer {ws.token}":
            return self._answer(200, {"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return self._answer(200, {"ok": True, "url": "https://example.slack.com/",
                                      "team": "Example", "user": "aftercare",
                                      "team_id": "T0000001", "user_id": "U0BOT"},
                                {"X-OAuth-Scopes": SCOPES})
        if method == "users.lookupByEmail":
            user = ws.users.get(str(params.get("email", "")).lower())
            if user is None:
                return self._answer(200, {"ok": False, "error": "users_not_found"})
            return self._answer(200, {"ok": True, "user": {"id": user, "deleted": False,
                                                           "is_bot": False}})
        if method == "conversations.open":
            user = str(params.get("users", ""))
            if user not in ws.users.values():
                return self._answer(200, {"ok": False, "error": "user_not_found"})
            return self._answer(200, {"ok": True, "channel": {"id": f"D{user}"}})
        if method == "chat.postMessage":
            channel, text = str(params.get("channel", "")), params.get("text")
            if not text:
                return self._answer(200, {"ok": False, "error": "no_text"})
            if not channel.startswith("D") or channel[1:] not in ws.users.values():
                return self._answer(200, {"ok": False, "error": "channel_not_found"})
            with ws.lock:
                ws.posts.append(Post(channel, text, params.get("unfurl_links"),
                                     params.get("unfurl_media")))
                ts = f"{len(ws.posts)}.000100"
            return self._answer(200, {"ok": True, "channel": channel, "ts": ts})
        return self._answer(200, {"ok": False, "error": "unknown_method"})


@contextmanager
def slack_api(workspace: Workspace, port: int | None = None) -> Iterator[str]:
    """Serve ``workspace`` on ``port`` (a free one if None); yield the API base URL."""
    handler = type("Handler", (_Handler,), {"workspace": workspace})
    server = ThreadingHTTPServer(("127.0.0.1", port or free_port()), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
