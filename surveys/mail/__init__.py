"""Mail transport: build messages and hand them to a backend chosen by ``AFTERCARE_MAIL``.

The package, by role: ``message`` (what an email is and how it is built), ``backends`` (how
a batch reaches a mail server and each outcome is told back; console, file, SMTP),
``slack`` (the Slack channel, a backend like the others), ``render`` (invitation and
reminder texts, rendered at send time), ``outbox`` (what is due, claims, leases, retries,
in the database) and ``worker`` (the tick and the sending loop). ``message`` and
``backends`` import neither Flask nor the database; services may use them to send; nothing
here imports the web, the API or the command line.

Backends, chosen by :func:`backend_from_url`:

- ``console`` (default): prints each message to stdout, for development.
- ``file:///dir``: writes each message to ``dir`` as an ``.eml`` file.
- ``smtp://host:port``, ``smtp://user:pass@host:587?starttls=1``, ``smtps://user:pass@host:465``.

Survey links carry secret tokens. Nothing here logs a body, a header value, an address or a
URL: log records carry the Message-ID, the outcome and a short, scrubbed reason. The console
backend prints the message itself to stdout on purpose; it never goes through logging.
"""
