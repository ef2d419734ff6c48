"""Aftercare, the application, in packages by role (docs/architecture.md draws the layers).

* The domain and its storage, at the top level: ``models`` (tables, the anonymity model's
  shapes), ``db`` (engine, sessions, migrations), ``config`` (settings, read once from the
  environment), ``tokens`` and ``crypto`` (single-use links, sealed boxes), ``errors``
  (domain errors), ``csvsafe``, and ``runtime`` (the clock, settings and token box of the
  running app, for entry points).
* ``services``: use cases, each owning its transaction.
* ``web``: the web app's wiring and its views; ``api``: the JSON API; ``cli``: the command
  line and the demo; ``mail``: messages, backends, the outbox and the worker.

Imports go one way: entry points (``web``, ``api``, ``cli``, the ``mail`` worker) may import
services and the domain; services import the domain, ``analysis`` and the ``mail``
transport; the domain imports only ``analysis``. ``analysis`` imports nothing from here
(``tests/unit/test_layout.py`` checks this and that no import cycle exists).
"""
