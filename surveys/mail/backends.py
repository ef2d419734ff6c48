"""How a batch of messages reaches a mail server, and how each outcome is told back: the
outcome types and failures, the console, file and SMTP backends, the backend chosen by
``AFTERCARE_MAIL`` (:func:`backend_from_url`) and the retry schedule. No Flask, no database.
"""

from __future__ import annotations

import abc
import email.policy
import email.utils
import enum
import logging
import random
import re
import smtplib
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from surveys.mail.message import (
    DEFAULT_MAIL_FROM,
    DEFAULT_MAIL_URL,
    InvalidMail,
    Mail,
    build_message,
    envelope_address,
)

log = logging.getLogger("surveys.mail")  # the mail logger docs/email.md names


# --- outcomes and failures ----------------------------------------------------------------


class Status(enum.StrEnum):
    """What happened to one message; the string values are fit for a database column."""

    SENT = "sent"
    TEMPORARY = "temporary"  # try again later (4xx reply, connection trouble)
    PERMANENT = "permanent"  # do not try again (5xx reply, malformed message)
    # The recipient has no account on this channel (a person not in Slack): the outbox
    # sends the message by email instead.
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Outcome:
    """The outcome for one message of a batch.

    ``code`` is the SMTP reply code when a server gave one. ``reason`` is short, meant for
    logs and an outbox column; it never holds a body, a URL or an address.
    """

    message_id: str
    status: Status
    code: int | None = None
    reason: str = ""
    # False when the message never reached a server (no connection, sender refused): the
    # trouble is the server's or the configuration's, not the message's.
    attempted: bool = True
    # Seconds the server asked to wait before the next request (Slack's Retry-After).
    retry_after: float | None = None

    @property
    def sent(self) -> bool:
        return self.status is Status.SENT

    @property
    def temporary(self) -> bool:
        return self.status is Status.TEMPORARY

    @property
    def permanent(self) -> bool:
        return self.status is Status.PERMANENT

    def error(self) -> MailError | None:
        """The matching exception, or ``None`` when the message was sent."""
        if self.status is Status.TEMPORARY:
            return TemporaryFailure(self.code, self.reason)
        if self.status in (Status.PERMANENT, Status.NOT_FOUND):
            return PermanentFailure(self.code, self.reason)
        return None


class MailError(Exception):
    """A message was not sent. ``code`` is the SMTP reply code if any, ``reason`` short."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code} {self.reason}" if self.code is not None else self.reason


class TemporaryFailure(MailError):
    """Try again later: a 4xx reply, a refused or dropped connection, a timeout."""


class PermanentFailure(MailError):
    """Do not try again: a 5xx reply for this message, or a malformed message."""


_URL_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
_ADDRESS_TEXT = re.compile(r"\S*@\S*")
# 24+ URL-safe characters with a lower-case letter and an upper-case letter or a digit:
# tokens and digests, but not words like CERTIFICATE_VERIFY_FAILED.
_TOKEN_TEXT = re.compile(r"(?=[\w-]*[a-z])(?=[\w-]*[A-Z0-9])[A-Za-z0-9_-]{24,}")


def _scrub(text: str | bytes, limit: int = 120) -> str:
    """Server replies can echo addresses; keep reasons free of URLs, addresses and
    anything token-shaped, on one short line."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text).split())
    text = _URL_TEXT.sub("<url>", text)
    text = _ADDRESS_TEXT.sub("<address>", text)
    text = _TOKEN_TEXT.sub("<redacted>", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _from_reply(message_id: str, code: int | None, stage: str, text: str | bytes) -> Outcome:
    """Classify an SMTP reply: 5xx is permanent, anything else (4xx, odd codes) temporary."""
    reason = f"{stage}: {_scrub(text)}".rstrip(": ")
    permanent = code is not None and 500 <= code <= 599
    return Outcome(message_id, Status.PERMANENT if permanent else Status.TEMPORARY, code, reason)


def log_outcome(outcome: Outcome) -> None:
    if outcome.sent:
        log.info("mail %s sent", outcome.message_id)
    else:
        log.warning(
            "mail %s %s failure (code %s): %s",
            outcome.message_id,
            outcome.status.value,
            outcome.code,
            outcome.reason,
        )


# --- backends -----------------------------------------------------------------------------


class MailBackend(abc.ABC):
    """Sends batches of :class:`Mail`; one :class:`Outcome` per mail, in the same order.

    ``send_batch`` does not raise for delivery problems: each one becomes an outcome, so
    the caller records every result of a partly failed batch. It never retries by itself
    beyond one reconnect; retry scheduling (see :func:`backoff_delay`) is the outbox's.
    """

    def __init__(self, sender: str) -> None:
        try:
            envelope_address(sender, "sender")
        except ValueError:
            raise ValueError("AFTERCARE_MAIL_FROM is not an email address") from None
        self.sender = sender

    @abc.abstractmethod
    def send_batch(self, mails: Sequence[Mail]) -> list[Outcome]:
        """Send ``mails``; return their outcomes in order."""

    def send_each(self, mails: Sequence[Mail]) -> Iterator[Outcome]:
        """Send ``mails``, yielding each outcome as soon as it is known, so the caller can
        record it before the next message goes (the outbox does). Stopping the iteration
        early sends nothing more. Backends that can stream override this."""
        yield from self.send_batch(mails)

    def send(self, mail: Mail) -> None:
        """Send one mail; raise :class:`TemporaryFailure` or :class:`PermanentFailure`."""
        error = self.send_batch([mail])[0].error()
        if error is not None:
            raise error

    def _build(self, mail: Mail) -> EmailMessage | Outcome:
        try:
            return build_message(mail, self.sender)
        except InvalidMail as exc:  # names the field, never its value
            reason = f"invalid message: {exc}"
        except Exception:  # the email package's own errors may quote a value: summarise
            reason = "invalid message: malformed"
        outcome = Outcome(mail.message_id, Status.PERMANENT, None, reason)
        log_outcome(outcome)
        return outcome


class StreamingBackend(MailBackend):
    """A backend that sends one message at a time: a batch is its stream, collected."""

    def send_batch(self, mails: Sequence[Mail]) -> list[Outcome]:
        return list(self.send_each(mails))

    @abc.abstractmethod
    def send_each(self, mails: Sequence[Mail]) -> Iterator[Outcome]:
        """Send ``mails`` one by one, yielding each outcome."""


class ConsoleBackend(StreamingBackend):
    """Prints each message, link included, to stdout (looked up at each call).

    This is the development backend: its output *is* the message, tokens and all, so it
    writes with ``print`` and never through logging. Do not use it in production.
    """

    def send_each(self, mails: Sequence[Mail]) -> Iterator[Outcome]:
        for mail in mails:
            built = self._build(mail)
            if isinstance(built, Outcome):
                yield built
                continue
            lines = ["----- aftercare mail (console backend) -----"]
            lines += [
                f"{name}: {value}"
                for name, value in built.items()
                if not name.lower().startswith(("content-", "mime-"))
            ]
            lines += ["", mail.text.rstrip("\n")]
            if mail.html is not None:
                lines += ["----- text/html alternative -----", mail.html.rstrip("\n")]
            lines.append("----- end of mail -----")
            print("\n".join(lines), file=sys.stdout, flush=True)
            outcome = Outcome(mail.message_id, Status.SENT)
            log_outcome(outcome)
            yield outcome

    def __repr__(self) -> str:
        return "ConsoleBackend()"


class FileBackend(StreamingBackend):
    """Writes each message to ``directory`` as ``<nanoseconds>-<message id>.eml``.

    Names sort in sending order (the timestamp is zero-padded and strictly increasing within
    a process) and files are created exclusively, so nothing is ever overwritten; a clash
    with another process moves on to the next nanosecond. The directory is created if
    missing. Files use CRLF line ends, as on the wire.
    """

    def __init__(self, directory: str | Path, sender: str) -> None:
        super().__init__(sender)
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._last_ns = 0

    def _next_ns(self) -> int:
        with self._lock:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            return self._last_ns

    def send_each(self, mails: Sequence[Mail]) -> Iterator[Outcome]:
        for mail in mails:
            built = self._build(mail)
            if isinstance(built, Outcome):
                yield built
                continue
            try:
                self._write(mail, built.as_bytes(policy=email.policy.SMTP))
            except OSError as exc:
                outcome = Outcome(
                    mail.message_id, Status.TEMPORARY, None, f"cannot write file: {exc.strerror}"
                )
            else:
                outcome = Outcome(mail.message_id, Status.SENT)
            log_outcome(outcome)
            yield outcome

    def _write(self, mail: Mail, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9._-]", "_", mail.message_id.strip("<>").split("@")[0])[:80]
        while True:
            path = self.directory / f"{self._next_ns():020d}-{slug}.eml"
            try:
                with path.open("xb") as fh:
                    fh.write(data)
                return
            except FileExistsError:
                continue

    def __repr__(self) -> str:
        return f"FileBackend({str(self.directory)!r})"


class SMTPBackend(MailBackend):
    """Sends over SMTP, one connection per batch.

    Parameters
    ----------
    host, port
        The mail server.
    sender
        The From header; its address is also the envelope sender.
    security
        ``"none"`` (plain SMTP), ``"starttls"`` (upgrade, refused if the server does not
        offer it: never a silent downgrade) or ``"ssl"`` (implicit TLS, smtps).
    username, password
        Log in when given (both or neither).
    timeout
        Seconds for connecting and for each reply.
    ssl_context
        For TLS; defaults to :func:`ssl.create_default_context` (system CAs, which honour
        ``SSL_CERT_FILE``; hostname checked).
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(sender)
        if security not in {"none", "starttls", "ssl"}:
            raise ValueError("security must be 'none', 'starttls' or 'ssl'")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if not timeout > 0:
            raise ValueError("timeout must be positive")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._envelope_from = envelope_address(sender, "sender")

    def __repr__(self) -> str:
        user = f"{self.username}:***@" if self.username is not None else ""
        return f"SMTPBackend({user}{self.host}:{self.port}, security={self.security!r})"

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo_or_helo_if_needed()
            if self.security == "starttls":
                conn.starttls(context=self._context())  # raises if STARTTLS is not offered
                conn.ehlo()
            if self.username is not None and self._password is not None:
                conn.login(self.username, self._password)
        except BaseException:
            conn.close()
            raise
        log.debug("smtp connected to %s:%s (%s)", self.host, self.port, self.security)
        return conn

    def _connect_failure(self, exc: Exception) -> str:
        if isinstance(exc, smtplib.SMTPResponseException):
            reason = f"connect: {exc.smtp_code} {_scrub(exc.smtp_error)}"
        else:
            reason = f"connect: {_scrub(str(exc) or type(exc).__name__)}"
        log.warning("smtp connection to %s:%s failed: %s", self.host, self.port, reason)
        return reason

    def send_batch(self, mails: Sequence[Mail]) -> list[Outcome]:
        """Send ``mails`` over one connection.

        A reply to one message (a refused recipient, a refused DATA) affects only that
        message: 4xx is temporary, 5xx permanent. Failing to connect, to start TLS or to
        log in, or a refused sender (MAIL FROM), marks every remaining message temporary:
        that is about the server or the configuration, not the message, and a permanent
        mark would lose invitations to a fixable setting. If the connection drops
        mid-batch, the message in flight is temporary (the server may or may not have taken
        it; its Message-ID makes a duplicate recognisable) and the backend reconnects once
        for the rest.
        """
        return list(self.send_each(mails))

    def send_each(self, mails: Sequence[Mail]) -> Iterator[Outcome]:
        """As :meth:`send_batch`, one outcome at a time (see :meth:`MailBackend.send_each`);
        the connection is closed when the iteration ends or is stopped."""
        conn: smtplib.SMTP | None = None
        reconnects_left = 1
        connected_before = False
        try:
            for index, mail in enumerate(mails):
                built = self._build(mail)
                if isinstance(built, Outcome):
                    yield built
                    continue
                if conn is not None and conn.sock is None:  # closed by a 421 or a failed RSET
                    conn = None
                if conn is None:
                    if connected_before and reconnects_left == 0:
                        yield from self._fail_rest(mails[index:], "connection lost")
                        break
                    if connected_before:
                        reconnects_left -= 1
                    try:
                        conn = self._connect()
                    except (OSError, smtplib.SMTPException) as exc:
                        yield from self._fail_rest(mails[index:], self._connect_failure(exc))
                        break
                    connected_before = True
                try:
                    outcome, alive = self._send_one(conn, mail, built)
                except smtplib.SMTPSenderRefused as exc:
                    # MAIL FROM refused: about the sender or the session, not this message,
                    # so stop here and keep everything for a later try.
                    reason = f"sender refused: {exc.smtp_code} {_scrub(exc.smtp_error)}"
                    log.error("smtp server refused the sender (AFTERCARE_MAIL_FROM): %s", reason)
                    yield from self._fail_rest(mails[index:], reason)
                    break
                if not alive:
                    conn.close()
                    conn = None
                log_outcome(outcome)
                yield outcome
        finally:
            if conn is not None:
                try:
                    conn.quit()
                except (OSError, smtplib.SMTPException):
                    conn.close()

    def _fail_rest(self, rest: Sequence[Mail], reason: str) -> Iterator[Outcome]:
        """The rest of the batch never reached the server: temporary, not attempted."""
        for mail in rest:
            outcome = Outcome(mail.message_id, Status.TEMPORARY, None, reason, attempted=False)
            log_outcome(outcome)
            yield outcome

    def _send_one(self, conn: smtplib.SMTP, mail: Mail, msg: EmailMessage) -> tuple[Outcome, bool]:
        """Send one message; return its outcome and whether the connection is still usable.

        Raises :class:`smtplib.SMTPSenderRefused` (except 552) for the batch to handle.
        """
        mid = mail.message_id
        recipient = envelope_address(mail.to, "recipient")
        try:
            conn.send_message(msg, from_addr=self._envelope_from, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (None, b""))
            return _from_reply(mid, code, "recipient refused", text), True
        except smtplib.SMTPServerDisconnected:
            return Outcome(mid, Status.TEMPORARY, None, "connection lost"), False
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code != 552:  # 552 at MAIL FROM: this message exceeds SIZE
                raise
            return _from_reply(mid, exc.smtp_code, "message too large", exc.smtp_error), True
        except smtplib.SMTPResponseException as exc:  # DATA refused, or a 421 anywhere
            stage = "data refused" if isinstance(exc, smtplib.SMTPDataError) else "refused"
            return _from_reply(mid, exc.smtp_code, stage, exc.smtp_error), exc.smtp_code != 421
        except smtplib.SMTPNotSupportedError:
            # send_message needs SMTPUTF8 for non-ASCII addresses; this server lacks it.
            return Outcome(mid, Status.PERMANENT, None, "server does not support SMTPUTF8"), True
        except smtplib.SMTPException as exc:
            return Outcome(mid, Status.TEMPORARY, None, f"smtp error: {type(exc).__name__}"), False
        except OSError as exc:  # timeouts, resets
            reason = f"connection lost: {_scrub(str(exc) or type(exc).__name__)}"
            return Outcome(mid, Status.TEMPORARY, None, reason), False
        return Outcome(mid, Status.SENT), True


# --- configuration ------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_URL_FORMS = "console, file:///dir, smtp://host:port or smtps://user:pass@host:port"


def _redact(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for error messages."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    return f"{scheme}{sep}{netloc}{slash}{tail}"


def backend_from_url(
    url: str,
    sender: str,
    timeout: float = 10.0,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> MailBackend:
    """Return the backend an ``AFTERCARE_MAIL`` value names.

    Forms: ``console``; ``file:///absolute/dir``; ``smtp://[user:pass@]host[:port]``
    (port 25; ``?starttls=1`` to upgrade with STARTTLS); ``smtps://[user:pass@]host[:port]``
    (port 465, implicit TLS). User and password are percent-decoded.

    Raises
    ------
    ValueError
        For a malformed URL (the message names ``AFTERCARE_MAIL`` and hides any password)
        or a sender that is not an address (naming ``AFTERCARE_MAIL_FROM``).
    """

    def bad(problem: str) -> ValueError:
        return ValueError(f"AFTERCARE_MAIL={_redact(url)!r}: {problem} (expected {_URL_FORMS})")

    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"AFTERCARE_MAIL is empty (expected {_URL_FORMS})")
    url = url.strip()
    if url.lower() == "console":
        return ConsoleBackend(sender)
    if "://" not in url:
        raise bad("not a URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()

    if scheme == "file":
        if parts.netloc not in {"", "localhost"}:
            raise bad("use file:///absolute/path (three slashes)")
        if parts.query or parts.fragment:
            raise bad("file URLs take no options")
        path = unquote(parts.path)
        if not path or path == "/":
            raise bad("missing directory")
        return FileBackend(path, sender)

    if scheme not in {"smtp", "smtps"}:
        raise bad(f"unsupported scheme {scheme!r}")
    try:
        port = parts.port
    except ValueError:
        raise bad("port must be a number from 1 to 65535") from None
    if port == 0:
        raise bad("port must be a number from 1 to 65535")
    host = parts.hostname
    if not host:
        raise bad("missing host")
    if parts.path not in {"", "/"} or parts.fragment:
        raise bad("unexpected path")
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "starttls":
            raise bad(f"unknown option {key!r} (only starttls)")
        options[key] = value.lower()
    starttls = options.get("starttls", "0")
    if starttls not in _TRUE | _FALSE:
        raise bad("starttls must be 1 or 0")
    if scheme == "smtps" and starttls in _TRUE:
        raise bad("smtps already uses TLS; use smtp://...?starttls=1 for STARTTLS")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if username is not None and password is None:
        raise bad("credentials need both user and password (user:pass@host)")
    if not timeout > 0:
        raise ValueError("mail timeout must be positive")
    security = "ssl" if scheme == "smtps" else ("starttls" if starttls in _TRUE else "none")
    return SMTPBackend(
        host,
        port if port is not None else (465 if scheme == "smtps" else 25),
        sender,
        security=security,
        username=username,
        password=password,
        timeout=timeout,
        ssl_context=ssl_context,
    )


def backend_from_env(env: Mapping[str, str], timeout: float = 10.0) -> MailBackend:
    """The backend for ``AFTERCARE_MAIL`` and ``AFTERCARE_MAIL_FROM`` in ``env`` (for
    example ``os.environ`` or ``app.config``), with the documented defaults."""
    return backend_from_url(
        env.get("AFTERCARE_MAIL") or DEFAULT_MAIL_URL,
        env.get("AFTERCARE_MAIL_FROM") or DEFAULT_MAIL_FROM,
        timeout,
    )


# --- retries ------------------------------------------------------------------------------


def backoff_delay(
    attempts: int,
    base: float = 60,
    cap: float = 6 * 3600,
    *,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next try after ``attempts`` failed tries.

    ``base * 2 ** (attempts - 1)``, capped at ``cap``, then shortened by a random fraction
    of up to ``jitter`` so that messages failed together do not retry together. The result
    never exceeds ``cap``. Pass ``jitter=0`` or a seeded ``rng`` for deterministic values.

    Raises
    ------
    ValueError
        If ``attempts < 1``, ``base`` or ``cap`` is negative, or ``jitter`` is outside [0, 1].
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError("attempts must be an integer of at least 1")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must not be negative")
    if not 0 <= jitter <= 1:
        raise ValueError("jitter must be between 0 and 1")
    delay = min(float(cap), base * 2.0 ** min(attempts - 1, 64))
    if jitter:
        delay *= 1 - jitter * (rng or random).random()
    return delay
