"""Sign in and out for managers, HR and admins: passwords, single sign-on (OpenID Connect),
two-factor codes, password reset.

Participants have no account and never come here. The rules are in docs/security.md and,
for single sign-on, docs/sso.md.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from surveys.db import get_session
from surveys.errors import InvalidInput
from surveys.mail.backends import MailError, backend_from_url
from surveys.mail.message import Mail, make_message_id
from surveys.models import User
from surveys.runtime import now, settings
from surveys.services import auth as service
from surveys.services import sso as sso_service
from surveys.services.access import ALL_ROLES
from surveys.services.audit import record as record_event
from surveys.services.lifecycle import normalise_email
from surveys.web import sso
from surveys.web.access import public, roles_required
from surveys.web.sessions import start_session
from surveys.web.views.audit import record

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

GENERIC_FAILURE = ("That email and password do not match an account. After several failed "
                   "attempts, sign-in pauses for a few minutes.")
CODE_FAILURE = "That code did not work. Use the current code from your app, or a recovery code."
RESET_SENT = ("If an account uses that address, we have sent it a link to choose a new "
              "password. The link works once, for 30 minutes.")
PENDING = "pending_2fa"
PENDING_VERSION = "pending_sv"
PENDING_NEXT = "pending_next"
PENDING_AT = "pending_at"
PENDING_SECONDS = 300
PENDING_SSO = "pending_sso"
SETUP_SECRET = "totp_setup"
RESET_TOKEN = "reset_token"
# Single sign-on: where to go after the provider, the ID token kept as the logout hint (only
# when small: the session is a cookie), and the provider's logout address after sign-out.
SSO_NEXT = "sso_next"
SSO_SESSION = "sso"
SSO_HINT = "sso_hint"
SSO_LOGOUT = "sso_logout"
SSO_MFA = "sso_mfa"  # the provider's token showed a second factor: no Aftercare code needed
MAX_HINT = 1500
LOCAL_OFF = ("Password sign-in is switched off here: sign in with your company account "
             "(single sign-on).")
# Reachable while an HR or admin account has not set up two-factor sign-in yet.
ENROL_ENDPOINTS = {"auth.two_factor", "auth.logout", "auth.index", "static"}


def home() -> str:
    """Where an account lands: HR and admins on the culture overview, managers on their
    incidents."""
    if current_user.is_authenticated and current_user.role in ("hr", "admin"):
        return url_for("hr.overview")
    return url_for("results.incidents")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return home()


def _box() -> service.SecretBox:
    return service.SecretBox(current_app.config["SECRET_KEY"])


def _finish_login(user: User, next_url: str | None, sso_login: dict | None = None):
    """A fresh session: nothing from before sign-in survives (no fixation).

    ``sso_login`` marks a single sign-on session: ``{"hint": ID token or None, "how": ...}``.
    """
    session.clear()
    login_user(user)
    start_session(user)
    if sso_login is not None:
        session[SSO_SESSION] = True
        if sso_login.get("mfa"):
            session[SSO_MFA] = True
        if sso_login.get("hint"):
            session[SSO_HINT] = sso_login["hint"]
    record("auth.login", target=f"user:{user.id}",
           detail=f"single sign-on{sso_login.get('how', '')}" if sso_login is not None else "")
    if (service.totp_required(user) and not service.has_totp(user)
            and not session.get(SSO_MFA)):
        flash("Your role needs two-factor sign-in. Set it up now to continue.", "info")
        return redirect(url_for("auth.two_factor"))
    return redirect(_safe_next(next_url))


@bp.context_processor
def _sign_in_options():
    return {"sso_enabled": sso.enabled(), "local_login": settings().local_login}


@bp.before_app_request
def _require_enrolment():
    """HR and admin accounts reach nothing but the set-up page until two-factor is on."""
    if ("_user_id" not in session or request.endpoint in ENROL_ENDPOINTS
            or session.get(SSO_MFA)):
        return None
    if (current_user.is_authenticated and service.totp_required(current_user)
            and not service.has_totp(current_user)):
        return redirect(url_for("auth.two_factor"))
    return None


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(home())
    email = ""
    if not settings().local_login:
        if request.method == "POST":
            return render_template("auth/login.html", error=LOCAL_OFF, email=""), 400
        return render_template("auth/login.html", error=None, email="")
    if request.method == "POST":
        email = request.form.get("email", "").strip()[:254]
        password = request.form.get("password", "")[:service.MAX_PASSWORD]
        if not email or not password:
            error = "Enter your email and password."
        else:
            db = get_session()
            user = service.authenticate(db, email, password, now())
            if user is not None:
                if service.has_totp(user):
                    next_url = request.args.get("next")
                    session.clear()
                    session[PENDING], session[PENDING_VERSION] = user.id, user.session_version
                    session[PENDING_AT] = now().timestamp()
                    session["seen"] = session["since"] = now().timestamp()
                    if next_url:
                        session[PENDING_NEXT] = _safe_next(next_url)
                    return redirect(url_for("auth.login_code"))
                return _finish_login(user, request.args.get("next"))
            _record_failure(db, email)
            error = GENERIC_FAILURE
        return render_template("auth/login.html", error=error, email=email), 400
    return render_template("auth/login.html", error=None, email=email)


def _record_failure(db, email: str) -> None:
    """Audit a failed sign-in against an existing account; typed text that matches no
    account (often a password in the wrong box) is not kept."""
    user = db.scalar(select(User).where(User.email == normalise_email(email)))
    if user is not None:
        record_event(db, actor=user, action="auth.login.failed", now=now(),
                     target=f"user:{user.id}", allowed=False,
                     detail="locked" if service.locked(user, now()) else "")


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():
    user_id = session.get(PENDING)
    started = session.get(PENDING_AT)
    if (not isinstance(user_id, int) or not isinstance(started, int | float)
            or now().timestamp() - started > PENDING_SECONDS):
        session.pop(PENDING, None)
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("auth/code.html", error=None)
    db = get_session()
    code = request.form.get("code", "")[:64]
    ok = service.verify_second_factor(db, user_id, code, _box(), now())
    user = db.get(User, user_id)
    if ok and user is not None and user.active and \
            user.session_version == session.get(PENDING_VERSION):
        pending_sso = session.get(PENDING_SSO)
        return _finish_login(user, session.get(PENDING_NEXT),
                             pending_sso if isinstance(pending_sso, dict) else None)
    if user is not None:
        record_event(db, actor=user, action="auth.code.failed", now=now(),
                     target=f"user:{user.id}", allowed=False)
    return render_template("auth/code.html", error=CODE_FAILURE), 400


@bp.post("/logout")
@roles_required(*ALL_ROLES)
def logout():
    """End the session on the server side too: a copy of the cookie stops working. After a
    single sign-on session, the provider's session ends too where it offers RP-initiated
    logout (through a page: a form may not redirect to another site under this app's
    Content-Security-Policy)."""
    user_id = current_user.id
    was_sso, hint = bool(session.get(SSO_SESSION)), session.get(SSO_HINT)
    record("auth.logout", target=f"user:{user_id}")
    service.end_sessions(get_session(), user_id)
    logout_user()
    session.clear()
    if was_sso and sso.enabled():
        target = sso.logout_url(hint if isinstance(hint, str) else None,
                                settings().base_url + url_for("auth.login"))
        if target:
            session[SSO_LOGOUT] = target
            return redirect(url_for("auth.sso_logout"), code=303)
        flash("You are signed out of Aftercare. Your company sign-in stays as it was: "
              "sign out there too on a shared computer.", "info")
        return redirect(url_for("auth.login"))
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/logout/provider")
@public
def sso_logout():
    """Signed out of Aftercare; on to the provider's logout (at once, or by the link)."""
    target = session.pop(SSO_LOGOUT, None)
    if not isinstance(target, str):
        return redirect(url_for("auth.login"))
    return render_template("auth/sso_logout.html", target=target)


# --- single sign-on -----------------------------------------------------------------------


def _sso_refused(reason: str, message: str, status: int, user: User | None = None,
                 who: str = ""):
    """A refused single sign-on: a clear page, an audit entry, and no session left behind."""
    session.clear()
    log.warning("single sign-on refused: %s", reason)
    record_event(get_session(), actor=user, action="auth.sso.refused", now=now(),
                 target=f"user:{user.id}" if user is not None else "", allowed=False,
                 detail=reason, actor_label=None if user is not None else (who or "anonymous"))
    return render_template("auth/sso_refused.html", message=message), status


@bp.get("/login/sso")
@public
def sso_start():
    if not sso.enabled():
        return render_template("errors/error.html", status=404, title="Not found",
                               message="Single sign-on is not set up here."), 404
    if current_user.is_authenticated:
        return redirect(home())
    next_url = request.args.get("next")
    if next_url:
        session[SSO_NEXT] = _safe_next(next_url)
    try:
        return sso.begin(settings().base_url + url_for("auth.sso_callback"))
    except sso.SsoRefused as exc:
        return _sso_refused(exc.reason, exc.message, exc.status)


@bp.get("/login/sso/callback")
@public
def sso_callback():
    if not sso.enabled():
        return render_template("errors/error.html", status=404, title="Not found",
                               message="Single sign-on is not set up here."), 404
    next_url = session.pop(SSO_NEXT, None)
    try:
        identity = sso.finish()
    except sso.SsoRefused as exc:
        return _sso_refused(exc.reason, exc.message, exc.status)
    db = get_session()
    try:
        user = sso_service.sign_in(db, identity, settings().oidc)
    except sso_service.SignInRefused as exc:
        return _sso_refused(exc.reason, exc.message, exc.status, exc.user,
                            who=f"sso:{identity.email}" if identity.email else "")
    hint = identity.id_token if len(identity.id_token) <= MAX_HINT else None
    if service.totp_required(user) and not identity.second_factor:
        if service.has_totp(user):
            # The provider's token does not show a second factor: Aftercare's own code.
            session.clear()
            session[PENDING], session[PENDING_VERSION] = user.id, user.session_version
            session[PENDING_AT] = now().timestamp()
            session["seen"] = session["since"] = now().timestamp()
            session[PENDING_SSO] = {"hint": hint, "how": ", Aftercare code"}
            if next_url:
                session[PENDING_NEXT] = next_url
            return redirect(url_for("auth.login_code"))
        return _finish_login(user, next_url, {"hint": hint, "how": ", code to be set up"})
    how = ", second factor by the provider" if identity.second_factor else ""
    return _finish_login(user, next_url,
                         {"hint": hint, "how": how, "mfa": identity.second_factor})


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(home())
    return render_template("index.html")


# --- account: two-factor ------------------------------------------------------------------


@bp.get("/account")
@roles_required(*ALL_ROLES)
def account():
    return render_template(
        "auth/account.html", has_totp=service.has_totp(current_user),
        required=service.totp_required(current_user),
        codes_left=service.recovery_codes_left(get_session(), current_user.id))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def two_factor():
    secret = session.get(SETUP_SECRET)
    if request.method == "GET" or not isinstance(secret, str):
        secret = service.new_totp_secret()
        session[SETUP_SECRET] = secret
        return _setup_page(secret, None, 200 if request.method == "GET" else 400)
    db = get_session()
    if service.has_totp(current_user) and not service.verify_second_factor(
            db, current_user.id, request.form.get("current", "")[:64], _box(), now()):
        # Moving to a new app needs the old factor: a borrowed session cannot swap it.
        return _setup_page(secret, "Enter a current code from your old app, or a recovery "
                                   "code, to move to a new one.", 400)
    try:
        codes = service.enable_totp(db, current_user.id, secret,
                                    request.form.get("code", "")[:64], _box(), now())
    except InvalidInput as exc:
        return _setup_page(secret, exc.fields.get("code", exc.message), 400)
    session.pop(SETUP_SECRET, None)
    record("auth.totp.enabled", target=f"user:{current_user.id}")
    return render_template("auth/recovery_codes.html", codes=codes)


def _setup_page(secret: str, error: str | None, status: int):
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "auth/two_factor.html", secret=grouped, error=error,
        uri=service.provisioning_uri(secret, current_user.email),
        has_totp=service.has_totp(current_user)), status


@bp.post("/account/recovery-codes")
@roles_required(*ALL_ROLES)
def recovery_codes():
    if not service.has_totp(current_user):
        flash("Set up two-factor sign-in first.", "error")
        return redirect(url_for("auth.account"))
    codes = service.regenerate_recovery_codes(get_session(), current_user.id)
    record("auth.recovery_codes.renewed", target=f"user:{current_user.id}")
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.post("/account/two-factor/disable")
@roles_required("manager")
def two_factor_disable():
    try:
        service.disable_totp(get_session(), current_user.id)
    except InvalidInput as exc:
        flash(exc.message, "error")
        return redirect(url_for("auth.account"))
    record("auth.totp.disabled", target=f"user:{current_user.id}")
    logout_user()
    session.clear()
    flash("Two-factor sign-in is off. Please sign in again.", "info")
    return redirect(url_for("auth.login"))


# --- password reset -----------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
def forgot():
    if not settings().local_login:
        return render_template("errors/error.html", status=404, title="No passwords here",
                               message=LOCAL_OFF), 404
    if request.method == "GET":
        return render_template("auth/forgot.html", error=None, email="")
    email = request.form.get("email", "").strip()[:254]
    if not email:
        return render_template("auth/forgot.html", error="Enter your email address.",
                               email=""), 400
    db = get_session()
    issued = service.request_password_reset(db, email, now())
    if issued is not None:
        user, token = issued
        record_event(db, actor=user, action="auth.reset.requested", now=now(),
                     target=f"user:{user.id}")
        _send_reset(user, token)
    flash(RESET_SENT, "info")
    return redirect(url_for("auth.login"), code=303)


def _send_reset(user: User, token: str) -> None:
    config = settings()
    link = f"{config.base_url}/password/reset/{token}"
    context = {"user": user, "link": link, "minutes": int(service.RESET_TTL.total_seconds() // 60)}
    mail = Mail(
        to=user.email, subject="Choose a new Aftercare password",
        text=render_template("auth/email/reset.txt", **context),
        html=render_template("auth/email/reset.html", **context),
        message_id=make_message_id(f"reset-{secrets.token_hex(8)}",
                                   current_app.config["SECRET_KEY"]))
    try:
        backend_from_url(config.mail_url, config.mail_from).send(mail)
    except (MailError, ValueError, OSError) as exc:  # never the address, never the link
        log.warning("password reset mail not sent: %s", type(exc).__name__)


@bp.get("/password/reset/<token>")
@public
def reset_link(token: str):
    """Like a survey link: keep the token in the session and drop it from the address bar."""
    if not settings().local_login:
        return render_template("errors/error.html", status=404, title="No passwords here",
                               message=LOCAL_OFF), 404
    if len(token) > 100:
        return render_template("auth/reset_invalid.html"), 404
    session[RESET_TOKEN] = token
    return redirect(url_for("auth.reset"), code=303)


@bp.route("/password/reset", methods=["GET", "POST"])
@public
def reset():
    if not settings().local_login:
        return render_template("errors/error.html", status=404, title="No passwords here",
                               message=LOCAL_OFF), 404
    token = session.get(RESET_TOKEN)
    db = get_session()
    if not isinstance(token, str) or not service.reset_token_valid(db, token, now()):
        session.pop(RESET_TOKEN, None)
        return render_template("auth/reset_invalid.html"), 404
    if request.method == "GET":
        return render_template("auth/reset.html", errors={})
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return render_template("auth/reset.html",
                               errors={"confirm": "The two passwords differ."}), 400
    try:
        user = service.reset_password(db, token, password, now())
    except InvalidInput as exc:
        return render_template("auth/reset.html", errors=exc.fields), 400
    record_event(db, actor=user, action="auth.password.reset", now=now(),
                 target=f"user:{user.id}")
    session.clear()
    flash("Your password is changed and every other session of your account has ended. "
          "Sign in with the new password.", "info")
    return redirect(url_for("auth.login"), code=303)
