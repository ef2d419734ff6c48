"""What every command shares: the request-free session and domain errors as messages."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from surveys import db as dbmod
from surveys.errors import DomainError


def fail(exc: DomainError) -> click.ClickException:
    """A domain error as a command-line error naming each field."""
    details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
    return click.ClickException(f"{exc.message} {details}".strip())


class CommandGroup(AppGroup):
    """A group of commands whose domain errors (bad input, not found, conflicts) end the
    command with their message and each field named, exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            raise fail(exc) from exc


def session():
    return dbmod.get_session()
