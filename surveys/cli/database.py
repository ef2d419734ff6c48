"""``flask --app app db ...``: the schema, through Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from surveys import db as dbmod
from surveys.cli.common import CommandGroup

db_cli = CommandGroup("db", help="The database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create the database or bring it up to REVISION (default: the newest). Safe to run
    again; a database made by the old ``init-db`` is adopted as revision 0001."""
    before, after = dbmod.upgrade(dbmod.get_engine(current_app), revision)
    if before == after:
        click.echo(f"Database is at revision {after}; nothing to do.")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to revision {after}.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Go back to REVISION (``-1``: one step). Take a backup first: a downgrade drops
    what the newer revisions added."""
    reached = dbmod.downgrade(dbmod.get_engine(current_app), revision)
    click.echo(f"Database is at revision {reached or 'empty'}.")


@db_cli.command("current")
def db_current() -> None:
    """The database's revision and the newest one."""
    with dbmod.get_engine(current_app).connect() as connection:
        current = dbmod.current_revision(connection)
    head = dbmod.head_revision()
    state = "up to date" if current == head else "run `flask --app app db upgrade`"
    click.echo(f"database {current or 'empty'}, newest {head}: {state}")


@db_cli.command("check")
def db_check() -> None:
    """Fail when the models differ from what the migrations create."""
    differences = dbmod.differences()
    if differences:
        raise click.ClickException(
            "the models differ from the migrations; add a revision (`flask --app app db "
            "revision -m ...`):\n" + "\n".join(f"  {d}" for d in differences))
    click.echo(f"Models and migrations agree (revision {dbmod.head_revision()}).")


@db_cli.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def db_backup(target: str) -> None:
    """Copy the live SQLite database to TARGET (online: the app may keep running). For
    PostgreSQL use pg_dump; see docs/operations.md."""
    try:
        pages = dbmod.backup_sqlite(dbmod.get_engine(current_app), Path(target))
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Backed up {pages} pages to {target}. The secret key is not in it: keep "
               "AFTERCARE_SECRET_KEY (or instance/secret_key) apart, safely.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision does.")
@click.option("--empty", is_flag=True, help="Do not compare with the models; write by hand.")
def db_revision(message: str, empty: bool) -> None:
    """Write the next revision into migrations/versions, generated from the difference
    between the models and the newest revision. Read it and edit it before committing."""
    path = dbmod.new_revision(message, autogenerate=not empty)
    click.echo(f"Wrote {path}; check it, then run `flask --app app db upgrade`.")
