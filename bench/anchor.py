"""The anchor of the load benchmark: the same three requests with nothing else.

``GET /s/<token>`` answers 303 and sets a signed session cookie; ``GET /s`` renders a Jinja
form with a CSRF field (Flask-WTF, as the app); ``POST /s`` checks the CSRF field and
inserts one row with raw ``sqlite3`` in WAL mode, then answers 303. Served by the same
gunicorn settings as the app (``gunicorn -c gunicorn.conf.py 'bench.anchor:create_app()'``);
its database is ``$ANCHOR_DB``.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from flask import Flask, redirect, render_template_string, request, session
from flask_wtf.csrf import CSRFProtect

FORM = """<!doctype html><html lang="en"><head><title>Survey</title></head><body>
<form method="post" action="/s"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
{% for q in questions %}<fieldset><legend>{{ q }}</legend>
{% for v in range(1, 6) %}<label><input type="radio" name="{{ q }}" value="{{ v }}"> {{ v }}</label>
{% endfor %}</fieldset>{% endfor %}<button>Send</button></form></body></html>"""
QUESTIONS = [f"q{i}" for i in range(10)]


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=os.environ.get("AFTERCARE_SECRET_KEY", "anchor" * 8),
                      WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=False)
    CSRFProtect(app)
    path = os.environ.get("ANCHOR_DB", "anchor.db")
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(path, timeout=10, isolation_level=None)
            local.db.execute("PRAGMA journal_mode=WAL")
            local.db.execute("PRAGMA synchronous=NORMAL")
            local.db.execute("CREATE TABLE IF NOT EXISTS answer (token TEXT, body TEXT)")
        return local.db

    @app.get("/s/<token>")
    def arrive(token):
        session["token"] = token
        return redirect("/s", code=303)

    @app.get("/s")
    def form():
        return render_template_string(FORM, questions=QUESTIONS)

    @app.post("/s")
    def submit():
        connection().execute("INSERT INTO answer VALUES (?, ?)",
                             (session.get("token"), request.get_data(as_text=True)[:2000]))
        return redirect("/s/thanks", code=303)

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app
