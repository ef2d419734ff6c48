"""Alembic environment: migrations run over a connection that ``surveys.db`` hands in
(``flask --app app db upgrade``, the tests), or over the app's engine otherwise.

Revisions are written by hand or with ``flask --app app db revision -m "..."`` (which
autogenerates from the models); see docs/operations.md.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import types

from surveys import db as dbmod

target_metadata = dbmod.metadata()


def render_item(kind, obj, autogen_context):
    """Write a custom column type as the plain type it stores (``UTCDateTime`` is a
    ``DateTime``), so that revisions never import the models: a revision is frozen."""
    if kind == "type" and isinstance(obj, types.TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters a table by copying it
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # the alembic command line: the engine of the configured app
    from app import create_app

    engine = dbmod.get_engine(create_app())
    with engine.connect() as own:
        run(own)
