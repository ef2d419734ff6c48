"""Participants over real HTTP: the load generator of ``bench_load`` and of the process and
fault tests (tests/service/test_processes.py).

A participant plays the real flow: open the link (``GET /s/<token>``, a 303 that sets the
session cookie), get the form (``GET /s``) and read its CSRF field and questions, answer
every question (``POST /s``), follow the 303 to the thank-you page. The client is a small
asyncio HTTP/1.1 client (one connection per request, as gunicorn's sync workers close them),
so one process can keep hundreds of participants in flight and schedule arrivals open-loop.

Behind a proxy (``AFTERCARE_TRUSTED_PROXIES=1``) each participant sends its own
``X-Forwarded-For`` address, as a real proxy would, so that rate limits count per person.
"""

from __future__ import annotations

import asyncio
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

_CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
_RADIO = re.compile(rb'<input type="radio" name="([a-z_]+)" value="([^"]*)"')


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class Timeout(Exception):
    """No complete answer within the client's timeout (a hung request)."""


async def request(host: str, port: int, method: str, path: str, *,
                  headers: dict[str, str] | None = None, body: bytes = b"",
                  timeout: float = 15.0) -> Reply:
    """One HTTP/1.1 request on a fresh connection; raises ``Timeout`` or ``OSError``."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    try:
        return await asyncio.wait_for(_exchange(host, port, raw), timeout)
    except TimeoutError as exc:
        raise Timeout(f"{method} {path}") from exc


async def _exchange(host: str, port: int, raw: bytes) -> Reply:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await reader.read(-1)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        raise ConnectionResetError("connection closed without an answer")
    status_line, *header_lines = head.split(b"\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.decode("latin-1").partition(":")
        key = name.strip().lower()
        headers[key] = (headers[key] + ", " if key in headers and key != "set-cookie"
                        else "") + value.strip()
    return Reply(int(status_line.split()[1]), headers, body)


def _cookie(reply: Reply, jar: dict[str, str]) -> None:
    cookie = reply.headers.get("set-cookie")
    if cookie:
        name, _, rest = cookie.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


def _cookie_header(jar: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}


@dataclass
class Flow:
    """What one participant saw."""

    token: str
    statuses: list[int] = field(default_factory=list)
    submit_s: float | None = None  # latency of the POST
    posted: bool = False  # the POST went out (it may have been stored even if no answer came)
    submitted: bool = False  # the POST was answered 303
    thanked: bool = False  # reached the thank-you page
    error: str | None = None  # a dropped connection or a timeout
    # The submit request as sent (cookie and body), for replaying it.
    replay: tuple[str, bytes] | None = None


def answers_for(form: bytes, rng: random.Random) -> dict[str, str]:
    """A random answer to every question the form asks (radio groups), as a person would."""
    offered: dict[str, list[str]] = {}
    for name, value in _RADIO.findall(form):
        offered.setdefault(name.decode(), []).append(value.decode())
    return {name: rng.choice(values) for name, values in offered.items()}


async def play(host: str, port: int, token: str, rng: random.Random, *,
               address: str | None = None, timeout: float = 15.0,
               follow: bool = True, then_port: int | None = None) -> Flow:
    """One participant through the whole flow; never raises. ``follow=False`` stops after
    the submit (the anchor's three requests); ``then_port`` sends every request after the
    first to another server (another process or host behind the same name)."""
    flow = Flow(token)
    first_port, port = port, then_port or port
    jar: dict[str, str] = {}
    base = {"X-Forwarded-For": address} if address else {}
    try:
        arrive = await request(host, first_port, "GET", f"/s/{token}", headers=base,
                               timeout=timeout)
        flow.statuses.append(arrive.status)
        _cookie(arrive, jar)
        if arrive.status != 303:
            return flow
        form = await request(host, port, "GET", "/s", headers={**base, **_cookie_header(jar)},
                             timeout=timeout)
        flow.statuses.append(form.status)
        _cookie(form, jar)
        if form.status != 200:
            return flow
        csrf = _CSRF.search(form.body)
        data = answers_for(form.body, rng)
        data["csrf_token"] = csrf.group(1).decode() if csrf else ""
        body = urlencode(data).encode()
        cookie = _cookie_header(jar)
        flow.replay = (cookie.get("Cookie", ""), body)
        started = time.perf_counter()
        flow.posted = True
        submit = await request(host, port, "POST", "/s", body=body, timeout=timeout, headers={
            **base, **cookie, "Referer": f"http://{host}:{port}/s",
            "Content-Type": "application/x-www-form-urlencoded"})
        flow.submit_s = time.perf_counter() - started
        flow.statuses.append(submit.status)
        _cookie(submit, jar)
        flow.submitted = submit.status == 303
        if not flow.submitted or not follow:
            return flow
        thanks = await request(host, port, "GET", submit.headers.get("location", "/s/thanks"),
                               headers={**base, **_cookie_header(jar)}, timeout=timeout)
        flow.statuses.append(thanks.status)
        flow.thanked = thanks.status == 200
    except (OSError, Timeout, asyncio.IncompleteReadError) as exc:
        flow.error = f"{type(exc).__name__}: {exc}"
    return flow


def address_for(index: int) -> str:
    """A distinct client address per participant (10.x.y.z)."""
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


async def closed_loop(host: str, port: int, tokens: list[str], concurrency: int,
                      seed: int = 1, timeout: float = 15.0,
                      follow: bool = True) -> tuple[list[Flow], float]:
    """``concurrency`` participants at a time, each starting as another finishes; returns
    the flows and the wall time."""
    rng = random.Random(seed)
    queue = list(enumerate(tokens))
    queue.reverse()
    flows: list[Flow] = []

    async def participant_loop():
        while queue:
            index, token = queue.pop()
            flows.append(await play(host, port, token, rng, address=address_for(index),
                                    timeout=timeout, follow=follow))

    started = time.perf_counter()
    await asyncio.gather(*(participant_loop() for _ in range(concurrency)))
    return flows, time.perf_counter() - started


async def open_loop(host: str, port: int, tokens: list[str], rate: float,
                    seed: int = 2, timeout: float = 15.0,
                    follow: bool = True) -> tuple[list[Flow], float]:
    """Participants arrive at ``rate`` per second (fixed spacing) whatever the server does;
    returns the flows and the time until the last one finished (``follow`` as in
    :func:`play`)."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    for index, token in enumerate(tokens):
        delay = started + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(
            play(host, port, token, rng, address=address_for(index), timeout=timeout,
                 follow=follow)))
    flows = await asyncio.gather(*tasks)
    return list(flows), loop.time() - started


# --- bad input -------------------------------------------------------------------------


def run(coroutine):
    """``asyncio.run`` in a thread of its own, so it works even where the calling thread
    already runs an event loop (Playwright's sync API leaves one in pytest's thread)."""
    import threading

    outcome: dict[str, object] = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]


def random_token() -> str:
    return secrets.token_urlsafe(32)


async def bad_request(host: str, port: int, kind: str, replay: tuple[str, bytes] | None,
                      address: str, timeout: float = 15.0) -> int:
    """One hostile request; returns its status (0 for a dropped connection).

    ``bad_csrf``: a real participant's cookie with a made-up CSRF field. ``replayed``: a
    submission that was answered, sent again byte for byte. ``unknown``: a link that never
    existed, opened and its form asked for. ``forged``: a session cookie the server never
    signed. ``oversized``: a body over the 1 MB limit.
    """
    base = {"X-Forwarded-For": address}
    post = {**base, "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://{host}:{port}/s"}
    try:
        if kind == "unknown":
            arrive = await request(host, port, "GET", f"/s/{random_token()}", headers=base,
                                   timeout=timeout)
            jar: dict[str, str] = {}
            _cookie(arrive, jar)
            return (await request(host, port, "GET", "/s", timeout=timeout,
                                  headers={**base, **_cookie_header(jar)})).status
        if kind == "oversized":
            body = b"comment=" + b"x" * (2**20 + 1024)
            return (await request(host, port, "POST", "/s", headers=post, body=body,
                                  timeout=timeout)).status
        if kind == "forged":
            cookie = "session=" + secrets.token_urlsafe(40) + "." + secrets.token_urlsafe(8)
            return (await request(host, port, "POST", "/s", headers={**post, "Cookie": cookie},
                                  body=b"csrf_token=x&involvement=observer",
                                  timeout=timeout)).status
        cookie, body = replay or ("", b"")
        if kind == "bad_csrf":
            body = re.sub(rb"csrf_token=[^&]*", b"csrf_token=forged" + secrets.token_hex(8)
                          .encode(), body)
        return (await request(host, port, "POST", "/s", headers={**post, "Cookie": cookie},
                              body=body, timeout=timeout)).status
    except (OSError, Timeout, asyncio.IncompleteReadError):
        return 0


BAD_KINDS = ("bad_csrf", "replayed", "unknown", "forged", "oversized")


async def flood(host: str, port: int, rate: float, until: asyncio.Event,
                replays: list[tuple[str, bytes]], seed: int = 3) -> list[tuple[str, int]]:
    """Hostile requests at ``rate`` per second from eight addresses until ``until`` is set;
    returns (kind, status) per request. ``replays`` are answered submissions to resend."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    n = 0
    while not until.is_set():
        delay = started + n / rate - loop.time()
        if delay > 0:
            try:
                await asyncio.wait_for(until.wait(), delay)
                break
            except TimeoutError:
                pass
        kind = BAD_KINDS[n % len(BAD_KINDS)]
        replay = rng.choice(replays) if replays else None

        async def one(kind=kind, replay=replay, address=f"198.51.100.{n % 8}"):
            return kind, await bad_request(host, port, kind, replay, address)

        tasks.append(asyncio.ensure_future(one()))
        n += 1
    return list(await asyncio.gather(*tasks))
