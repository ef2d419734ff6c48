"""Sign in and out for managers, HR and admins."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from surveys.db import get_session
from surveys.services.admin import authenticate

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "That email and password do not match an account."


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("results.incidents")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("results.incidents"))
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()[:254]
        password = request.form.get("password", "")[:1024]
        if not email or not password:
            error = "Enter your email and password."
        else:
            user = authenticate(get_session(), email, password)
            if user is None:
                error = GENERIC_FAILURE
            else:
                session.clear()  # a fresh session on login
                login_user(user)
                return redirect(_safe_next(request.args.get("next")))
        return render_template("auth/login.html", error=error, email=email), 400
    return render_template("auth/login.html", error=None, email=email)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("results.incidents"))
    return render_template("index.html")
