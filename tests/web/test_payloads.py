"""A corpus of XSS, SQL injection, template injection and CSV formula payloads pushed through
every text field a person can fill (team and person names, incident titles, survey comments,
review drafts, query strings), then every page (walked from ``app.url_map`` as each role),
every email the outbox sends and every CSV export is read back: nothing executes.

HTML and SVG: no payload markup survives unescaped. Emails: the HTML part likewise. CSV: no
text cell starts with = + - @ (numbers aside). SQL: the literal text round-trips and every
table is still there.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import unicodedata
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select
from werkzeug.routing import IntegerConverter

from support import NOW, Manager, Participant, build_org, csrf_from, open_survey
from support.api import incident, make_key
from support.app import make_app
from support.routes import (
    Objects,
    arguments_of,
    fill_rule,
    methods,
    role_email,
    sign_in,
    url_for_rule,
)
from surveys import csvsafe
from surveys import db as dbmod
from surveys.models import Comment, Incident, Person, Team
from surveys.services import lifecycle
from surveys.web.converters import IdConverter, SlugConverter

XSS = [
    '<script>alert("xss-1")</script>',
    '"><img src=x onerror=alert("xss-2")>',
    "'><svg onload=alert('xss-3')>",
    "</textarea><script>alert('xss-4')</script>",
    '<a href="javascript:alert(5)">xss-5</a>',
    "<iframe srcdoc='<script>alert(6)</script>'>",
]
SQL = [
    "'; DROP TABLE team; --",
    "x' OR '1'='1",
    "' UNION SELECT password_hash FROM user_account --",
]
TEMPLATE = ["{{ 7*7 }} {% raw %}", "${7*7}"]
CSV = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3+cmd|' /C calc'!A0",
       "@SUM(1+1)", "\t=1+1", "\r=1+1", "\n=1+1", " =1+1", "\uff1d1+1", "\uff0b1+1",
       "\uff0d1+1", "\uff20SUM(1+1)", "\u00a0=1+1", "\u200b=1+1"]
CORPUS = XSS + SQL + TEMPLATE + CSV

# Raw markup that must never reach a page, an SVG or an email's HTML part.
# ("onerror=" inside escaped text is harmless; an unescaped quote shows as '"><img'.)
DANGEROUS = ["<script", "<img src=x", "<svg onload", "<iframe", 'href="javascript:']


@pytest.fixture
def seeded(tmp_path):
    """An organisation whose every text field holds a payload, with released comments."""
    outbox = tmp_path / "mail"
    app = make_app(f"sqlite:///{tmp_path / 'payloads.db'}",
                   AFTERCARE_MAIL=f"file://{outbox}", RATELIMIT_ENABLED=False,
                   AFTERCARE_SURVEY_LIMIT="0")  # one roster, many incidents: no fatigue limit
    with dbmod.session_scope(app) as db:
        build_org(db, size=len(CORPUS))
    admin, manager = app.test_client(), app.test_client()
    Manager(admin).login("admin@example.org")
    Manager(manager).login("manager@example.org")
    for i, payload in enumerate(CORPUS):
        page = admin.get("/admin/organisation")
        assert admin.post("/admin/organisation", data={
            "action": "team", "slug": f"payload-{i}", "name": payload[:120],
            "csrf_token": csrf_from(page.text)}).status_code == 302
        assert admin.post("/admin/organisation", data={
            "action": "person", "team": "payments", "name": payload,
            "email": f"payload{i}@example.org", "csrf_token": csrf_from(page.text)}
        ).status_code == 302
    page = manager.get("/incidents/new")
    created = manager.post("/incidents/new", data={
        "team": "payments", "title": XSS[0], "kind": "availability", "severity": "sev2",
        "closed_at": (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "participants": "payments0@example.org", "csrf_token": csrf_from(page.text)})
    assert created.status_code == 302
    settings = app.extensions["aftercare.settings"]
    box = app.extensions["aftercare.token_box"]
    with dbmod.session_scope(app) as db:
        for payload in CORPUS[1:]:
            lifecycle.create_incident(db, lifecycle.NewIncident(
                team="payments", title=payload[:200], kind="security", severity="sev3",
                closed_at=NOW - timedelta(hours=3), participants=["payments1@example.org"]),
                settings, box, NOW)
        survey, tokens = open_survey(db, settings, box, people=len(CORPUS), title=XSS[1])
    runner = app.test_cli_runner()
    assert runner.invoke(args=["outbox", "flush"]).exit_code == 0
    for token, payload in zip(tokens, CORPUS, strict=True):
        done = Participant(app.test_client()).answer(token, comment=payload)
        assert done.status_code == 303
    with dbmod.session_scope(app) as db:
        lifecycle.close_survey(db, survey.id, NOW)
        objects = Objects(survey.incident_id, survey.id, "payments")
    yield app, outbox, objects
    dbmod.get_engine(app).dispose()


def _unsafe_markup(text: str) -> list[str]:
    lowered = text.lower()
    return [d for d in DANGEROUS if d.lower() in lowered]


def _would_run(value: str) -> bool:
    """What a spreadsheet might run: after any leading white space or invisible characters,
    a formula sign, in any width (NFKC folds the full-width and small forms)."""
    rest = value.lstrip("".join(c for c in value[:8] if not c.isprintable() or c.isspace()))
    return unicodedata.normalize("NFKC", rest[:1]) in ("=", "+", "-", "@")


def _formula_cells(body: str) -> list[str]:
    bad = []
    for row in csv.reader(io.StringIO(body)):
        for value in row:
            if _would_run(value):
                try:
                    float(value)
                except ValueError:
                    bad.append(value)
    return bad


def _query() -> dict[str, str]:
    """Reflected input: every likely query parameter carries a payload too."""
    names = ("q", "action", "page", "grain", "period", "team", "kind", "next", "from", "to")
    return {name: XSS[i % len(XSS)] for i, name in enumerate(names)}


def test_every_page_and_export_neutralises_the_corpus(seeded):
    app, _, objects = seeded
    problems, seen_csv, seen_html = [], 0, 0
    with dbmod.session_scope(app) as db:
        for role in ("anonymous", "manager", "hr", "admin"):
            for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
                if "GET" not in methods(rule) or rule.endpoint == "static":
                    continue
                client = app.test_client()
                if role != "anonymous":
                    sign_in(client, db, role_email(role))
                url = url_for_rule(rule, objects)
                for query in ({}, _query()):
                    response = client.get(url, query_string=query)
                    kind = response.mimetype
                    text = kind.startswith("text/") or kind.endswith(("+xml", "/json"))
                    body = response.get_data(as_text=True) if text else ""
                    where = f"{role} GET {url} {'with' if query else 'without'} query"
                    if response.status_code >= 500:
                        problems.append(f"{where}: {response.status_code}")
                    if kind in ("text/html", "image/svg+xml"):
                        seen_html += 1
                        if found := _unsafe_markup(body):
                            problems.append(f"{where}: unescaped {found}")
                    elif kind == "text/csv":
                        seen_csv += 1
                        if found := _formula_cells(body):
                            problems.append(f"{where}: formula cells {found[:3]}")
                    elif kind == "application/pdf":
                        raw = response.get_data()
                        if any(m in raw for m in (b"/JavaScript", b"/JS ", b"/Launch")):
                            problems.append(f"{where}: active content in a PDF")
                    elif kind == "application/json":
                        assert response.headers["X-Content-Type-Options"] == "nosniff"
                    response.close()
    assert not problems, "\n".join(problems)
    assert seen_html > 20
    assert seen_csv >= 1  # at least the audit export


def test_payloads_reach_the_pages_as_text(seeded):
    """The corpus is not silently dropped: it is shown, escaped."""
    app, _, objects = seeded
    admin = app.test_client()
    with dbmod.session_scope(app) as db:
        sign_in(admin, db, role_email("admin"))
    organisation = admin.get("/admin/organisation").text
    assert "&lt;script&gt;alert(&#34;xss-1&#34;)&lt;/script&gt;" in organisation
    assert "{{ 7*7 }} {% raw %}" in organisation and "49" not in organisation.split("<main")[1]
    incident = admin.get(f"/incidents/{objects.incident_id}").text
    assert "&lt;img src=x onerror=alert(&#34;xss-2&#34;)&gt;" in incident


def test_comments_are_released_escaped(seeded):
    app, _, objects = seeded
    with dbmod.session_scope(app) as db:
        bodies = set(db.scalars(select(Comment.body)))
        assert {c.strip() for c in CORPUS} <= bodies  # stored as written (trimmed)
        hr = app.test_client()
        sign_in(hr, db, role_email("hr"))
    page = hr.get(f"/incidents/{objects.incident_id}").text
    assert not _unsafe_markup(page)


def test_review_drafts_are_shown_escaped(seeded):
    app, _, _ = seeded
    client = app.test_client()
    with dbmod.session_scope(app) as db:
        sign_in(client, db, role_email("manager"))
    page = client.get("/review/check")
    if page.status_code == 404:
        pytest.skip("no review check page")
    response = client.post("/review/check", data={
        "draft": "\n".join(CORPUS) + "\nThe root cause was human error.",
        "csrf_token": csrf_from(page.text)})
    assert response.status_code < 500
    assert not _unsafe_markup(response.text)


def test_sql_payloads_are_stored_literally_and_every_table_survives(seeded):
    app, _, _ = seeded
    engine = dbmod.get_engine(app)
    assert {"team", "user_account", "response", "comment", "audit_event"} <= set(
        inspect(engine).get_table_names())
    with dbmod.session_scope(app) as db:
        names = set(db.scalars(select(Team.name)))
        assert set(SQL) <= names
        assert db.scalar(select(func.count()).select_from(Team)) == 2 + len(CORPUS)
        assert set(SQL) <= set(db.scalars(select(Person.name)))


def test_emails_escape_titles_in_their_html_part(seeded):
    _, outbox, _ = seeded
    files = sorted(outbox.glob("*.eml"))
    assert len(files) >= 12
    titles_seen = 0
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        html = message.get_body(("html",))
        assert html is not None
        content = html.get_content()
        assert not _unsafe_markup(content), path.name
        titles_seen += "&lt;" in content
        assert "\n" not in str(message["Subject"])
    assert titles_seen >= 1


def test_password_reset_email_escapes_the_account_name(tmp_path):
    from flask import render_template

    app = make_app(f"sqlite:///{tmp_path / 'mail.db'}")
    try:
        with app.test_request_context():
            class Named:
                name = XSS[0]

            html = render_template("auth/email/reset.html", user=Named(),
                                   link="http://127.0.0.1:5000/password/reset/abc", minutes=30)
        assert not _unsafe_markup(html)
    finally:
        dbmod.get_engine(app).dispose()


@pytest.mark.parametrize("payload", CSV)
def test_csv_cells_starting_with_formula_characters_are_neutralised(payload):
    assert _would_run(payload)  # the checker itself sees the danger
    assert csvsafe.cell(payload).startswith("'")
    assert not _formula_cells(csvsafe.to_csv(["h"], [[payload], [-0.5], [3]]))
    assert csvsafe.cell(-0.5) == "-0.5" and csvsafe.cell(None) == ""
    assert csvsafe.cell("Checkout latency") == "Checkout latency"


@pytest.fixture
def unlimited(tmp_path):
    """A small organisation without rate limits: these tests send many hostile requests."""
    app = make_app(f"sqlite:///{tmp_path / 'unlimited.db'}", RATELIMIT_ENABLED=False)
    with dbmod.session_scope(app) as db:
        build_org(db, size=1)
    yield app
    dbmod.get_engine(app).dispose()


def test_audit_csv_neutralises_what_a_signed_in_visitor_can_plant(unlimited):
    """Finding: audit.csv cells starting with a line feed, a space or a full-width equals
    sign were not neutralised. An HR account plants them through a query argument that the
    audit log records as the target; the export must not run any of them."""
    hr = unlimited.test_client()
    Manager(hr).login("hr@example.org")
    for payload in CSV:
        assert hr.get("/hr", query_string={"period": payload}).status_code < 500
    export = hr.get("/audit.csv")
    assert export.status_code == 200
    targets = [row[5] for row in csv.reader(io.StringIO(export.text))]
    assert all(any(t == "'" + p for t in targets) for p in CSV), "payloads not recorded"
    assert not _formula_cells(export.text)


# --- route converters, JSON bodies and titles: out-of-range input is a 4xx -----------------

EXTREME_IDS = ["0", "-1", "00", "01", str(2**31), str(2**63), str(2**63 + 1), str(2**64),
               "9" * 30, "9" * 5000, "1e3", "0x10", "\uff11"]


def _id_rules(app):
    return [r for r in app.url_map.iter_rules() if arguments_of(r, IdConverter)]


def test_every_id_in_a_route_uses_the_one_id_converter(app):
    """One converter for all ids (surveys.web.IdConverter), one for slugs: no route may use
    werkzeug's unbounded int, and every *_id argument is an id."""
    problems = []
    for rule in app.url_map.iter_rules():
        for name, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter) and not isinstance(converter,
                                                                           IdConverter):
                problems.append(f"{rule.rule}: {name} uses <int:>, use <id:>")
            if name.endswith("_id") and not isinstance(converter, IdConverter):
                problems.append(f"{rule.rule}: {name} is an id, use <id:>")
            if name in ("slug", "team", "team_slug") and not isinstance(converter,
                                                                        SlugConverter):
                problems.append(f"{rule.rule}: {name} is a slug, use <slug:>")
    assert not problems, "\n".join(problems)
    assert len(_id_rules(app)) >= 7


def test_ids_out_of_range_are_404_on_every_route(unlimited):
    """Finding: ids above 2**63 on web routes (/incidents/<id>, its learning and close
    POSTs, /admin/api/<id>/revoke) gave 500 (OverflowError)."""
    admin = unlimited.test_client()
    Manager(admin).login("admin@example.org")
    token = csrf_from(admin.get("/incidents").text)
    key = make_key(unlimited).secret
    checked = 0
    for rule in _id_rules(unlimited):
        for method in methods(rule):
            for value in EXTREME_IDS:
                url = fill_rule(rule, {a: value if a in arguments_of(rule, IdConverter)
                                       else "payments" for a in rule.arguments})
                response = admin.open(url, method=method, data={"csrf_token": token},
                                      headers={"Authorization": f"Bearer {key}"})
                assert response.status_code == 404, (method, url, response.status_code)
                if url.startswith("/api/"):
                    assert response.json["error"]["code"] == "not_found"
                checked += 1
    assert checked >= 7 * len(EXTREME_IDS)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_json_is_malformed_json_on_every_json_endpoint(app, client, org, depth):
    """Finding: a JSON body nested 100,000 deep gave 500 (RecursionError)."""
    key = make_key(app).secret
    body = "[" * depth + "]" * depth
    posts = [r.rule for r in app.url_map.iter_rules()
             if r.rule.startswith("/api/") and "POST" in (r.methods or ())
             and "<" not in r.rule]
    assert "/api/v1/incidents" in posts
    for path in posts:
        response = client.post(path, data=body, content_type="application/json",
                               headers={"Authorization": f"Bearer {key}"})
        if depth > 10_000:
            assert response.status_code == 400, (path, response.status_code)
            assert response.json["error"]["code"] == "malformed_json"
        else:
            assert 400 <= response.status_code < 500, (path, response.status_code)


BROKEN_TITLES = ["Queue stalled\r\nBcc: everyone@example.org", "line\nbreak", "tab\there",
                 "nul\x00byte", "next\u0085line", "sep\u2028arator"]


@pytest.mark.parametrize("title", BROKEN_TITLES)
def test_one_title_rule_for_the_form_and_the_api(app, client, db, org, title):
    """Finding: the web form accepted CR/LF in a title (the API refused it); the invitations
    then failed for good and the survey opened with nobody invited."""
    manager = app.test_client()
    Manager(manager).login("manager@example.org")
    page = manager.get("/incidents/new")
    form = manager.post("/incidents/new", data={
        "team": "payments", "title": title, "kind": "availability", "severity": "sev2",
        "closed_at": (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "participants": "payments0@example.org", "csrf_token": csrf_from(page.text)})
    assert form.status_code == 400
    message = lifecycle.title_problem(title)
    assert message and message in form.text  # the form names the problem beside the title
    api = client.post("/api/v1/incidents", json=incident(title=title),
                      headers={"Authorization": f"Bearer {make_key(app).secret}"})
    assert api.status_code == 422 and api.json["error"]["fields"]["title"] == message
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Incident)) == 0
