"""The command line, ``flask --app app <command>``: click groups, one module per group.

* ``database``: ``db upgrade|downgrade|current|check|backup|revision``;
* ``organisation``: ``team``, ``person``, ``user`` and ``policy``;
* ``surveys``: ``incident add`` and ``surveys tick|close``;
* ``sending``: ``outbox flush|run`` and ``worker``;
* ``keys``: ``api-key create|revoke|list``;
* ``review``: ``lint-review``;
* ``channels``: ``sso check``, ``slack check`` and ``delivery show|set``;
* ``demo``: ``demo [--reset]``; ``demo-links`` prints the demo's address, accounts and
  unanswered survey links again.

Each command parses its arguments and calls one service (or the worker); every group is a
``common.CommandGroup``, which prints a domain error with the fields it names and exits 1.
Commands may import services, the mail package and ``surveys.runtime``; nothing outside this
package imports it but ``app.py``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from surveys.cli import (
        channels,
        database,
        demo,
        keys,
        organisation,
        review,
        sending,
        surveys,
    )

    for command in (database.db_cli, organisation.team_cli, organisation.person_cli,
                    organisation.user_cli, organisation.policy_cli, surveys.incident_cli,
                    surveys.surveys_cli, sending.outbox_cli, sending.worker, keys.api_key_cli,
                    review.lint_review, demo.demo_command, demo.demo_links_command):
        app.cli.add_command(command)
    channels.init_app(app)
