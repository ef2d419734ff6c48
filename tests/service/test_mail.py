"""Mail transport against real SMTP conversations (aiosmtpd on 127.0.0.1), no smtplib mocks."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import random
import ssl
from dataclasses import dataclass

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.smtp import Inbox, free_port
from surveys.mail.backends import (
    ConsoleBackend,
    FileBackend,
    PermanentFailure,
    SMTPBackend,
    Status,
    TemporaryFailure,
    backend_from_env,
    backend_from_url,
    backoff_delay,
)
from surveys.mail.message import Mail, build_message, make_message_id, unsubscribe_headers

SENDER = "Aftercare <aftercare@example.org>"
TOKEN = "Zq3vX9_tokenlike-secret-0123456789abcdefGHIJ"  # shaped like secrets.token_urlsafe(32)
SURVEY_LINK = f"https://aftercare.example.org/s/{TOKEN}"
UNSUBSCRIBE_LINK = f"https://aftercare.example.org/unsubscribe/{TOKEN}"


# --- helpers ------------------------------------------------------------------------------


def make_mail(n: int, to: str | None = None, *, html: bool = True) -> Mail:
    return Mail(
        to=to or f"person{n}@example.org",
        subject=f"How did the review of incident {n} feel?",
        text=f"Two minutes, anonymous:\n{SURVEY_LINK}\n",
        html=f'<p>Two minutes, anonymous: <a href="{SURVEY_LINK}">answer</a></p>' if html else None,
        message_id=make_message_id(n, "test-seed"),
        headers=unsubscribe_headers(UNSUBSCRIBE_LINK),
    )


def smtp_backend(port: int, **kwargs) -> SMTPBackend:
    return SMTPBackend("127.0.0.1", port, SENDER, timeout=5, **kwargs)


@dataclass
class TLSFiles:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> TLSFiles:
    """A self-signed certificate for localhost and 127.0.0.1, trusted by the client only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return TLSFiles(server=server, client=client)


def accept_user(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"survey-bot", b"p@ss word:1")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


# --- SMTP ---------------------------------------------------------------------------------


def test_batch_is_delivered_over_one_connection_with_both_parts_and_headers(start_server):
    inbox = Inbox()
    server = start_server(inbox)
    mails = [make_mail(1), make_mail(2), make_mail(3, html=False)]

    outcomes = smtp_backend(server.port).send_batch(mails)

    assert [o.status for o in outcomes] == [Status.SENT] * 3
    assert [o.message_id for o in outcomes] == [m.message_id for m in mails]
    assert inbox.message_ids() == [m.message_id for m in mails]
    assert len({r.peer for r in inbox.received}) == 1  # one connection for the batch
    first = inbox.received[0]
    assert first.mail_from == "aftercare@example.org"
    assert first.rcpt_tos == ["person1@example.org"]
    message = first.message
    assert message["Message-ID"] == make_message_id(1, "test-seed")
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_LINK}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert SURVEY_LINK in message.get_body(("plain",)).get_content()
    assert f'href="{SURVEY_LINK}"' in message.get_body(("html",)).get_content()
    assert inbox.received[2].message.get_content_type() == "text/plain"


def test_non_ascii_text_and_long_links_survive_the_wire(start_server):
    inbox = Inbox()
    server = start_server(inbox)
    long_link = f"{SURVEY_LINK}?{'x' * 120}"
    mail = Mail(
        "person@example.org",
        "Wie hat sich die Nachbesprechung angefühlt? – 2 Minuten",
        f"Grüße! Zwei Minuten, anonym:\n{long_link}\n",
        f'<p>Grüße! <a href="{long_link}">Antworten</a></p>',
        make_message_id(9, "test-seed"),
    )

    assert smtp_backend(server.port).send_batch([mail])[0].sent

    message = inbox.received[0].message
    assert message["Subject"] == mail.subject
    assert long_link in message.get_body(("plain",)).get_content()
    assert "Grüße" in message.get_body(("html",)).get_content()


def test_451_is_temporary_and_sending_again_delivers_exactly_once(start_server):
    inbox = Inbox(
        rcpt_replies={"person1@example.org": ["451 4.7.1 Greylisted, try again later"]},
        data_replies=["451 4.3.0 Queue full"],  # the first DATA to arrive (message 2's)
    )
    server = start_server(inbox)
    backend = smtp_backend(server.port)
    mails = [make_mail(1), make_mail(2)]

    first = backend.send_batch(mails)
    assert [(o.status, o.code) for o in first] == [(Status.TEMPORARY, 451), (Status.TEMPORARY, 451)]
    assert first[0].reason.startswith("recipient refused")
    assert first[1].reason.startswith("data refused")
    assert inbox.received == []

    second = backend.send_batch(mails)
    assert [o.status for o in second] == [Status.SENT, Status.SENT]
    assert sorted(inbox.message_ids()) == sorted(m.message_id for m in mails)


def test_server_down_makes_all_temporary_and_later_all_are_delivered(start_server):
    port = free_port()
    backend = smtp_backend(port)
    mails = [make_mail(n) for n in range(1, 4)]

    down = backend.send_batch(mails)
    assert [o.status for o in down] == [Status.TEMPORARY] * 3
    assert all(o.reason.startswith("connect:") for o in down)

    inbox = Inbox()
    start_server(inbox, port=port)
    up = backend.send_batch(mails)
    assert [o.status for o in up] == [Status.SENT] * 3
    assert inbox.message_ids() == [m.message_id for m in mails]


def test_550_for_one_recipient_is_permanent_and_the_rest_is_delivered(start_server):
    inbox = Inbox(rcpt_replies={"gone@example.org": ["550 5.1.1 <gone@example.org>: no such user"]})
    server = start_server(inbox)
    mails = [make_mail(1), make_mail(2, to="gone@example.org"), make_mail(3)]

    outcomes = smtp_backend(server.port).send_batch(mails)

    assert [o.status for o in outcomes] == [Status.SENT, Status.PERMANENT, Status.SENT]
    assert outcomes[1].code == 550
    assert "gone@example.org" not in outcomes[1].reason  # addresses are scrubbed
    assert inbox.message_ids() == [mails[0].message_id, mails[2].message_id]
    assert len({r.peer for r in inbox.received}) == 1  # the refusal did not cost the connection


def test_dropped_connection_reconnects_once_and_a_resend_is_a_recognisable_duplicate(
    start_server,
):
    inbox = Inbox(drop_after={2})  # takes message 2, then hangs up before answering
    server = start_server(inbox)
    backend = smtp_backend(server.port)
    mails = [make_mail(n) for n in range(1, 5)]

    outcomes = backend.send_batch(mails)

    assert [o.status for o in outcomes] == [Status.SENT, Status.TEMPORARY, Status.SENT, Status.SENT]
    assert len({r.peer for r in inbox.received}) == 2  # one reconnect
    # The outbox retries message 2; the copy carries the same Message-ID, so it is detectable.
    assert backend.send_batch([mails[1]])[0].sent
    ids = inbox.message_ids()
    assert ids.count(mails[1].message_id) == 2
    assert len(ids) == 5


def test_second_drop_in_a_batch_marks_the_rest_temporary(start_server):
    inbox = Inbox(drop_after={1, 2})
    server = start_server(inbox)
    mails = [make_mail(n) for n in range(1, 5)]

    outcomes = smtp_backend(server.port).send_batch(mails)

    assert [o.status for o in outcomes] == [Status.TEMPORARY] * 4
    assert [o.reason for o in outcomes[2:]] == ["connection lost"] * 2
    assert len(inbox.received) == 2


class RefusingSender(Inbox):
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        return "553 5.7.1 Sender address not allowed"


def test_refused_sender_keeps_the_whole_batch_for_later(start_server, caplog):
    server = start_server(RefusingSender())

    outcomes = smtp_backend(server.port).send_batch([make_mail(1), make_mail(2)])

    assert [(o.status, o.code) for o in outcomes] == [(Status.TEMPORARY, None)] * 2
    assert all(o.reason.startswith("sender refused: 553") for o in outcomes)
    assert "AFTERCARE_MAIL_FROM" in caplog.text


def test_421_closes_the_connection_and_the_batch_goes_on(start_server):
    inbox = Inbox(rcpt_replies={"person1@example.org": ["421 4.3.2 Shutting down"]})
    server = start_server(inbox)
    mails = [make_mail(1), make_mail(2)]

    outcomes = smtp_backend(server.port).send_batch(mails)

    assert [(o.status, o.code) for o in outcomes] == [(Status.TEMPORARY, 421), (Status.SENT, None)]
    assert inbox.message_ids() == [mails[1].message_id]


def test_starttls_with_auth(start_server, tls):
    inbox = Inbox()
    server = start_server(
        inbox,
        tls_context=tls.server,
        require_starttls=True,
        authenticator=accept_user,
        auth_required=True,
    )
    url = f"smtp://survey-bot:p%40ss%20word%3A1@127.0.0.1:{server.port}?starttls=1"
    backend = backend_from_url(url, SENDER, timeout=5, ssl_context=tls.client)

    outcomes = backend.send_batch([make_mail(1), make_mail(2)])

    assert [o.status for o in outcomes] == [Status.SENT, Status.SENT]
    assert len(inbox.received) == 2
    assert all(r.authenticated for r in inbox.received)
    assert len({r.peer for r in inbox.received}) == 1


def test_wrong_password_is_temporary_for_the_whole_batch(start_server, tls):
    inbox = Inbox()
    server = start_server(
        inbox, tls_context=tls.server, require_starttls=True, authenticator=accept_user
    )
    url = f"smtp://survey-bot:wrong@127.0.0.1:{server.port}?starttls=1"
    backend = backend_from_url(url, SENDER, timeout=5, ssl_context=tls.client)

    outcomes = backend.send_batch([make_mail(1), make_mail(2)])

    assert [(o.status, o.code) for o in outcomes] == [(Status.TEMPORARY, None)] * 2
    assert all("535" in o.reason for o in outcomes)
    assert inbox.received == []


def test_starttls_is_never_silently_skipped(start_server):
    server = start_server(Inbox())  # offers no STARTTLS
    backend = smtp_backend(server.port, security="starttls")

    outcomes = backend.send_batch([make_mail(1)])

    assert outcomes[0].temporary
    assert "STARTTLS" in outcomes[0].reason


def test_untrusted_certificate_is_refused(start_server, tls):
    server = start_server(Inbox(), tls_context=tls.server, require_starttls=True)
    backend = smtp_backend(server.port, security="starttls")  # system CAs only

    outcomes = backend.send_batch([make_mail(1)])

    assert outcomes[0].temporary
    assert "CERTIFICATE_VERIFY_FAILED" in outcomes[0].reason
    assert "self-signed" in outcomes[0].reason


def test_smtps_implicit_tls_with_auth(start_server, tls):
    inbox = Inbox()
    server = start_server(
        inbox,
        ssl_context=tls.server,
        authenticator=accept_user,
        # aiosmtpd counts only STARTTLS as TLS, so over implicit TLS it offers AUTH only
        # with auth_require_tls=False (and warns if AUTH is then also required).
        auth_require_tls=False,
    )
    url = f"smtps://survey-bot:p%40ss%20word%3A1@127.0.0.1:{server.port}"
    backend = backend_from_url(url, SENDER, timeout=5, ssl_context=tls.client)

    assert backend.send_batch([make_mail(1)])[0].sent
    assert inbox.message_ids() == [make_mail(1).message_id]
    assert inbox.received[0].authenticated


def test_send_raises_the_matching_failure(start_server):
    inbox = Inbox(
        rcpt_replies={
            "later@example.org": ["452 4.2.2 Mailbox full"],
            "never@example.org": ["553 5.7.1 Rejected"],
        }
    )
    server = start_server(inbox)
    backend = smtp_backend(server.port)

    with pytest.raises(TemporaryFailure) as temporary:
        backend.send(make_mail(1, to="later@example.org"))
    assert temporary.value.code == 452
    with pytest.raises(PermanentFailure) as permanent:
        backend.send(make_mail(2, to="never@example.org"))
    assert permanent.value.code == 553
    backend.send(make_mail(3))
    assert len(inbox.received) == 1


def test_malformed_mail_is_permanent_and_does_not_stop_the_batch(start_server):
    inbox = Inbox()
    server = start_server(inbox)
    bad = Mail("p@example.org", "Subject\r\nBcc: x@evil.example", "text", None, "<a@b>")
    mails = [make_mail(1), bad, make_mail(3)]

    outcomes = smtp_backend(server.port).send_batch(mails)

    assert [o.status for o in outcomes] == [Status.SENT, Status.PERMANENT, Status.SENT]
    assert outcomes[1].reason == "invalid message: header Subject must not contain line breaks"
    assert len(inbox.received) == 2


def test_no_log_record_carries_a_token_link_or_address(start_server, caplog):
    inbox = Inbox(
        rcpt_replies={
            "person2@example.org": ["451 4.7.1 try later"],
            "gone@example.org": [f"550 5.1.1 no such user, see {SURVEY_LINK}"],
        },
        drop_after={1},
    )
    server = start_server(inbox)
    mails = [make_mail(1), make_mail(2), make_mail(3, to="gone@example.org"), make_mail(4)]
    mails.append(Mail("p@example.org", "x", SURVEY_LINK, None, "<x@y>", {"X-Bad\n": "v"}))
    down = smtp_backend(free_port())

    with caplog.at_level(logging.DEBUG):
        outcomes = smtp_backend(server.port).send_batch(mails)
        down.send_batch(mails[:1])

    assert [o.status for o in outcomes] == [
        Status.TEMPORARY,  # dropped after the server took it
        Status.TEMPORARY,
        Status.PERMANENT,
        Status.SENT,
        Status.PERMANENT,
    ]
    # aiosmtpd (the test server, logger "mail.log") logs every line it receives; what matters
    # is what the client side logs.
    ours = [r for r in caplog.records if not r.name.startswith("mail.")]
    assert any(r.name == "surveys.mail" for r in ours)
    for record in ours:
        text = record.getMessage()
        for secret in (TOKEN, "/s/", "example.org", "https://"):
            assert secret not in text, (record.name, text)
    for outcome in outcomes:
        assert TOKEN not in outcome.reason and "@example.org" not in outcome.reason
    assert all(m.message_id in caplog.text for m in mails)


# --- file and console ---------------------------------------------------------------------


def test_file_backend_keeps_order_and_never_overwrites(tmp_path):
    directory = tmp_path / "outbox" / "mail"  # created on first use
    backend = backend_from_url(f"file://{directory}", SENDER)
    mails = [make_mail(n) for n in (3, 1, 2)]

    outcomes = backend.send_batch(mails) + backend.send_batch([mails[0]])  # same mail again

    assert all(o.sent for o in outcomes)
    files = sorted(directory.iterdir())
    assert len(files) == 4
    assert all(f.suffix == ".eml" for f in files)
    parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    ids = [m.message_id for m in mails]
    assert [p["Message-ID"] for p in parsed] == [*ids, ids[0]]
    assert SURVEY_LINK in parsed[0].get_body(("plain",)).get_content()
    assert b"\r\n" in files[0].read_bytes()


def test_file_backend_reports_an_unwritable_directory_as_temporary(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    outcome = FileBackend(blocker, SENDER).send_batch([make_mail(1)])[0]
    assert outcome.temporary
    assert str(tmp_path) not in outcome.reason


def test_console_backend_prints_the_message_and_logs_no_link(capsys, caplog):
    backend = backend_from_url("console", SENDER)
    assert isinstance(backend, ConsoleBackend)
    mail = make_mail(1)

    with caplog.at_level(logging.DEBUG):
        outcomes = backend.send_batch([mail])

    assert outcomes[0].sent
    out = capsys.readouterr().out
    assert SURVEY_LINK in out
    assert f"Message-ID: {mail.message_id}" in out
    assert "Subject: How did the review of incident 1 feel?" in out
    assert "text/html alternative" in out
    assert TOKEN not in caplog.text
    assert mail.message_id in caplog.text


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "expected"),
    [
        ("console", ConsoleBackend, {}),
        (" CONSOLE ", ConsoleBackend, {}),
        ("smtp://mail.example.org", SMTPBackend, {"port": 25, "security": "none"}),
        ("smtp://mail.example.org:2525", SMTPBackend, {"port": 2525, "username": None}),
        (
            "smtp://u%40x:p%2Fw@mail.example.org:587?starttls=1",
            SMTPBackend,
            {"port": 587, "security": "starttls", "username": "u@x", "_password": "p/w"},
        ),
        ("smtp://h:587?starttls=0", SMTPBackend, {"security": "none"}),
        ("smtps://u:p@mail.example.org", SMTPBackend, {"port": 465, "security": "ssl"}),
        ("file:///var/mail/aftercare", FileBackend, {}),
    ],
)
def test_backend_from_url(url, kind, expected):
    backend = backend_from_url(url, SENDER)
    assert isinstance(backend, kind)
    for name, value in expected.items():
        assert getattr(backend, name) == value


@pytest.mark.parametrize(
    "url",
    [
        "",
        "smtp",
        "smtp.example.org:25",
        "http://mail.example.org",
        "smtp://",
        "smtp://:25",
        "smtp://mail.example.org:0",
        "smtp://mail.example.org:70000",
        "smtp://mail.example.org:port",
        "smtp://mail.example.org/path",
        "smtp://mail.example.org?tls=1",
        "smtp://mail.example.org?starttls=maybe",
        "smtps://u:hunter2@mail.example.org?starttls=1",
        "smtp://onlyuser@mail.example.org",
        "file://relative/dir",
        "file:///",
        "file:///var/mail?x=1",
    ],
)
def test_bad_urls_name_the_setting_and_hide_the_password(url):
    with pytest.raises(ValueError, match="AFTERCARE_MAIL") as info:
        backend_from_url(url, SENDER)
    assert "hunter2" not in str(info.value)


def test_bad_sender_names_its_setting():
    with pytest.raises(ValueError, match="AFTERCARE_MAIL_FROM"):
        backend_from_url("console", "not an address")
    with pytest.raises(ValueError, match="AFTERCARE_MAIL_FROM"):
        backend_from_env({"AFTERCARE_MAIL_FROM": "a@b\r\nBcc: c@d"})


def test_backend_from_env_defaults_to_console():
    backend = backend_from_env({})
    assert isinstance(backend, ConsoleBackend)
    assert backend.sender == "aftercare@localhost"


def test_repr_hides_the_password():
    backend = backend_from_url("smtps://u:hunter2@mail.example.org", SENDER)
    assert "hunter2" not in repr(backend)
    assert TOKEN not in repr(make_mail(1))


# --- messages, Message-IDs, backoff -------------------------------------------------------


def test_message_id_is_deterministic_and_seeded():
    first = make_message_id(42, "seed")
    assert first == make_message_id(42, b"seed")
    assert first.startswith("<outbox-42.") and first.endswith("@aftercare>")
    assert len(first) == len("<outbox-42.@aftercare>") + 16
    assert first != make_message_id(43, "seed")
    assert first != make_message_id(42, "other seed")
    assert make_message_id("7f3a", "s", domain="mail.example.org").endswith("@mail.example.org>")
    for bad in ("4 2", "a@b", "x>", "", True):
        with pytest.raises(ValueError):
            make_message_id(bad, "seed")


@pytest.mark.parametrize(
    "headers",
    [
        {"Bcc": "x@evil.example"},
        {"Content-Type": "text/plain"},
        {"message-id": "<x@y>"},
        {"X-Note": "a\r\nBcc: x@evil.example"},
        {"Bad Name": "v"},
    ],
)
def test_build_message_refuses_owned_headers_and_injection(headers):
    mail = Mail("p@example.org", "s", "t", None, "<x@y>", headers)
    with pytest.raises(ValueError):
        build_message(mail, SENDER)


def test_build_message_without_unsubscribe_has_no_list_headers():
    mail = Mail("p@example.org", "Subject", "text", None, "<a@b>")
    message = build_message(mail, SENDER)
    assert message["List-Unsubscribe"] is None
    assert message.get_content_type() == "text/plain"
    assert message["Date"] is not None


def test_unsubscribe_headers():
    assert unsubscribe_headers("mailto:u@example.org") == {
        "List-Unsubscribe": "<mailto:u@example.org>"
    }
    assert "List-Unsubscribe-Post" not in unsubscribe_headers("https://x/u", one_click=False)
    with pytest.raises(ValueError):
        unsubscribe_headers("javascript:alert(1)")


def test_backoff_doubles_up_to_the_cap_without_jitter():
    delays = [backoff_delay(n, jitter=0) for n in range(1, 12)]
    assert delays[:5] == [60, 120, 240, 480, 960]
    assert delays[-1] == 6 * 3600
    assert backoff_delay(10_000, jitter=0) == 6 * 3600
    assert backoff_delay(3, base=10, cap=25, jitter=0) == 25


def test_backoff_jitter_only_shortens_and_is_reproducible():
    delays = [backoff_delay(4, rng=random.Random(7)) for _ in range(3)]
    assert delays[0] == delays[1] == delays[2]
    samples = [backoff_delay(4, rng=random.Random(seed)) for seed in range(200)]
    assert all(480 * 0.9 <= d <= 480 for d in samples)
    assert len(set(samples)) > 100
    assert all(backoff_delay(30, rng=random.Random(s)) <= 6 * 3600 for s in range(50))


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"attempts": 1, "jitter": 2}, {"attempts": 1, "base": -1}]
)
def test_backoff_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        backoff_delay(**kwargs)
