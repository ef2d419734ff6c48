"""What every command shares: the request-free session and domain errors as messages."""

from __future__ import annotations

import click

from surveys import db as dbmod
from surveys.errors import DomainError


def fail(exc: DomainError) -> click.ClickException:
    """A domain error as a command-line error naming each field."""
    details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    return click.ClickException(f"{exc.message} {details}".strip())


def session():
    return dbmod.get_session()
