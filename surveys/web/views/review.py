"""A page where a signed-in user pastes a review draft and sees blame-loaded wording."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from analysis import language
from surveys.db import get_session
from surveys.services import review

bp = Blueprint("review", __name__, url_prefix="/review")


TOO_LARGE = ("This draft is too large to check on this page. Check it in parts, or run "
             "`flask --app app lint-review FILE` on it.")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return _page(413, error=TOO_LARGE)


def _page(status: int = 200, **context):
    context.setdefault("text", "")
    context.setdefault("report", None)
    context.setdefault("error", None)
    context.setdefault("dismissed", [])
    context.setdefault("roster_size", None)
    return render_template("review/check.html", categories=language.CATEGORIES,
                           framing=language.FRAMING_CATEGORIES, limits=language.LIMITS,
                           max_chars=review.MAX_DRAFT_CHARS, **context), status


@bp.route("/check", methods=["GET", "POST"])
@login_required
def check():
    if request.method == "GET":
        return _page()
    text = request.form.get("draft", "")
    if not text.strip():
        return _page(400, error="Paste a review draft to check.")
    if len(text) > review.MAX_DRAFT_CHARS:
        return _page(413, text=text[:2000], error=(
            f"This draft has {len(text):,} characters; the page checks up to "
            f"{review.MAX_DRAFT_CHARS:,}. Check it in parts, or use the command line."))
    dismissed = [] if "restore" in request.form else [
        d for d in request.form.getlist("dismissed") if 0 < len(d) <= 80
    ][:review.MAX_DISMISSED]
    one = request.form.get("dismiss", "")
    if 0 < len(one) <= 80 and one not in dismissed:
        dismissed.append(one)
    names = review.names_for(get_session(), current_user)
    budget = current_app.config.get("REVIEW_CHECK_BUDGET", review.CHECK_BUDGET_SECONDS)
    try:
        report = review.check_draft(text, names, dismissed, budget=budget)
    except review.CheckTooSlow as exc:
        return _page(503, text=text, error=exc.message, roster_size=len(names))
    return _page(text=text, report=report, segments=review.segments(text, report),
                 dismissed=dismissed, roster_size=len(names))
