"""A scripted SMTP server for tests: aiosmtpd on 127.0.0.1, free ports, replies on cue."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple[str, int]
    authenticated: bool


class Inbox:
    """aiosmtpd handler that keeps what it accepts and plays scripted replies.

    ``rcpt_replies[address]`` and ``data_replies`` are lists consumed one reply per command;
    ``None`` means accept. ``drop_after`` holds the 1-based numbers of accepted messages after
    which the server hangs up instead of answering 250 (the message was taken, the client
    never hears so).
    """

    def __init__(self, rcpt_replies=None, data_replies=None, drop_after=()):
        self.received: list[Received] = []
        self.rcpt_replies: dict[str, list[str | None]] = rcpt_replies or {}
        self.data_replies: list[str | None] = data_replies or []
        self.drop_after = set(drop_after)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        script = self.rcpt_replies.get(address)
        reply = script.pop(0) if script else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.data_replies.pop(0) if self.data_replies else None
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message,
                session.peer,
                bool(session.authenticated),
            )
        )
        if len(self.received) in self.drop_after:
            server.transport.abort()
            return "250 OK"  # never reaches the client: the transport is gone
        return "250 OK"

    @property
    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]

    def message_ids(self) -> list[str]:
        return [r.message["Message-ID"] for r in self.received]


@pytest.fixture
def start_server():
    """Start aiosmtpd controllers on free ports; every one is stopped after the test."""
    controllers: list[Controller] = []

    def start(handler, port: int | None = None, **kwargs) -> Controller:
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port or free_port(),
            server_hostname="localhost",  # skips getfqdn(), which can be slow without DNS
            ready_timeout=5,
            **kwargs,
        )
        controller.start()
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        controller.stop()
