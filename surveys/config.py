"""Settings from the environment, parsed once, with errors that name the variable."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from analysis.release import validate_min_group

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the variable."""


def parse_duration(name: str, raw: str) -> timedelta:
    """Parse ``"24h"``, ``"7d"``, ``"90m"``, ``"0"`` into a timedelta."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name}={raw!r}: use a number with s, m, h, d or w, e.g. 24h or 7d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_min_group(raw: str | int) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"AFTERCARE_MIN_GROUP={raw!r}: must be a whole number") from exc
    try:
        return validate_min_group(value)
    except ValueError as exc:
        raise ConfigError(f"AFTERCARE_MIN_GROUP={raw!r}: {exc}") from exc


def parse_pool_period(raw: str) -> str:
    """AFTERCARE_POOL_PERIOD: the calendar period small incidents are pooled by."""
    value = str(raw).strip().lower()
    if value not in ("month", "quarter"):
        raise ConfigError(f"AFTERCARE_POOL_PERIOD={raw!r}: use month or quarter")
    return value


def parse_survey_limit(raw: str) -> int | None:
    raw = raw.strip()
    if not raw.isdigit():
        raise ConfigError(f"AFTERCARE_SURVEY_LIMIT={raw!r}: a whole number (0 for no limit)")
    return int(raw) or None


def parse_survey_limit_window(raw: str) -> timedelta:
    window = parse_duration("AFTERCARE_SURVEY_LIMIT_WINDOW", raw)
    if window <= timedelta(0):
        raise ConfigError("AFTERCARE_SURVEY_LIMIT_WINDOW must be longer than 0")
    return window


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_pool_size(raw: str | int | None) -> int:
    """AFTERCARE_DB_POOL_SIZE: database connections kept per process (default 5)."""
    if raw in (None, ""):
        return 5
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise ConfigError(f"AFTERCARE_DB_POOL_SIZE={raw!r}: a whole number from 1 to 100")
    return int(text)


def parse_flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ConfigError(f"{name}={raw!r}: use 1 or 0")
    return value in _TRUE


def load_secret_key(instance_path: Path) -> str:
    """The secret from AFTERCARE_SECRET_KEY, else one generated into instance/ once.

    Several processes may start at once (gunicorn workers): the key is written to a
    private temporary file and linked into place, so every process reads the one key that
    won, complete. With several hosts, set AFTERCARE_SECRET_KEY on each (the same value).
    """
    from_env = os.environ.get(SECRET_ENV_KEY)
    if from_env:
        return from_env
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        draft = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # atomic; fails if another process was first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    """What services need from configuration, passed in explicitly."""

    min_group: int = 5
    open_delay: timedelta = timedelta(hours=24)
    survey_duration: timedelta = timedelta(days=7)
    base_url: str = "http://127.0.0.1:5000"
    mail_url: str = "console"
    mail_from: str = "aftercare@localhost"
    support_contact: str | None = None
    pool_period: str = "quarter"  # AFTERCARE_POOL_PERIOD: month | quarter
    # Survey fatigue: a person is invited to at most ``survey_limit`` surveys opening within
    # ``survey_limit_window`` of each other, counted from invitations; None for no limit.
    survey_limit: int | None = 2
    survey_limit_window: timedelta = timedelta(days=30)
    # When False, a reminder whose half-time falls on a weekend (UTC) moves to a weekday.
    remind_on_weekends: bool = False
    # Raw responses of surveys closed longer ago than this are deleted (sealed counts and
    # released figures stay); None keeps them.
    retention_days: int | None = None
    # Single sign-on (surveys/sso.py, docs/sso.md); None when AFTERCARE_OIDC_ISSUER is unset.
    oidc: OidcSettings | None = None
    # AFTERCARE_LOCAL_LOGIN=0: no password sign-in, no password reset (single sign-on only).
    local_login: bool = True
    # Survey invitations as Slack direct messages (surveys/slack.py, docs/slack.md).
    slack_token: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"

    @classmethod
    def from_config(cls, config: dict) -> Settings:
        return cls(
            min_group=parse_min_group(config["AFTERCARE_MIN_GROUP"]),
            open_delay=parse_duration("AFTERCARE_OPEN_DELAY", str(config["AFTERCARE_OPEN_DELAY"])),
            survey_duration=parse_duration(
                "AFTERCARE_SURVEY_DURATION", str(config["AFTERCARE_SURVEY_DURATION"])
            ),
            base_url=str(config["AFTERCARE_BASE_URL"]).rstrip("/"),
            mail_url=str(config["AFTERCARE_MAIL"]),
            mail_from=str(config["AFTERCARE_MAIL_FROM"]),
            support_contact=config.get("AFTERCARE_SUPPORT_CONTACT") or None,
            pool_period=parse_pool_period(config.get("AFTERCARE_POOL_PERIOD") or "quarter"),
            survey_limit=parse_survey_limit(str(config.get("AFTERCARE_SURVEY_LIMIT", "2"))),
            survey_limit_window=parse_survey_limit_window(
                str(config.get("AFTERCARE_SURVEY_LIMIT_WINDOW", "30d"))),
            remind_on_weekends=parse_flag("AFTERCARE_REMIND_WEEKENDS",
                                          str(config.get("AFTERCARE_REMIND_WEEKENDS", "0"))),
            retention_days=parse_retention(config.get("AFTERCARE_RETENTION_DAYS")),
            oidc=parse_oidc(config),
            local_login=parse_local_login(config),
            slack_token=str(config.get("AFTERCARE_SLACK_TOKEN") or "").strip() or None,
            slack_api_url=parse_slack_api_url(config.get("AFTERCARE_SLACK_API_URL")),
        )


def parse_trusted_proxies(raw: str | int | None) -> int:
    """AFTERCARE_TRUSTED_PROXIES: how many reverse proxies stand in front (0 to 5)."""
    text = str(raw if raw is not None else "0").strip() or "0"
    try:
        hops = int(text)
    except ValueError:
        raise ConfigError(f"AFTERCARE_TRUSTED_PROXIES={raw!r}: must be a whole number") from None
    if not 0 <= hops <= 5:
        raise ConfigError(f"AFTERCARE_TRUSTED_PROXIES={raw!r}: use 0 to 5")
    return hops


def parse_retention(raw: str | int | None) -> int | None:
    """AFTERCARE_RETENTION_DAYS: keep raw responses this many days after close (unset or
    0: keep them)."""
    text = str(raw if raw is not None else "").strip()
    if text in ("", "0"):
        return None
    if not text.isdigit():
        raise ConfigError(f"AFTERCARE_RETENTION_DAYS={raw!r}: a whole number of days "
                          "(0 or unset keeps raw responses)")
    return int(text)


# --- single sign-on and Slack ----------------------------------------------------------------

# Roles an entry of AFTERCARE_OIDC_ROLE_MAP may grant, weakest first: a person whose groups
# grant several gets the strongest (surveys.services.sso).
SSO_ROLES = ("manager", "hr", "admin")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class RoleGrant:
    """What one group (or one verified address) grants: a role, and a manager's teams."""

    role: str
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class OidcSettings:
    """AFTERCARE_OIDC_*: the provider, this client, and how claims become roles.

    ``role_map`` keys are values of the groups claim, or ``email:ADDRESS`` for one person
    whose address the provider has verified (for providers whose ID tokens carry no groups).
    ``mfa`` lists ``("amr", value)`` and ``("acr", value)`` pairs: a token naming any of them
    meets the second-factor rule of HR and admin accounts; empty means Aftercare's own TOTP
    is always asked.
    """

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    role_map: tuple[tuple[str, RoleGrant], ...]
    groups_claim: str = "groups"
    scopes: str = "openid email profile"
    mfa: tuple[tuple[str, str], ...] = (("amr", "mfa"),)

    @property
    def grants(self) -> dict[str, RoleGrant]:
        return dict(self.role_map)

    @property
    def teams(self) -> tuple[str, ...]:
        """Every team slug the role map names, once, in order."""
        seen: dict[str, None] = {}
        for _key, grant in self.role_map:
            seen.update(dict.fromkeys(grant.teams))
        return tuple(seen)


ROLE_MAP_FORM = ("GROUP=ROLE entries separated by ';' (ROLE is admin, hr, or "
                 "manager:TEAM[,TEAM...]), e.g. 'aftercare-admins=admin; "
                 "payments-leads=manager:payments'")


def parse_role_map(raw: str) -> tuple[tuple[str, RoleGrant], ...]:
    """AFTERCARE_OIDC_ROLE_MAP: ``GROUP=ROLE`` entries separated by ``;`` or new lines.

    ``ROLE`` is ``admin``, ``hr`` or ``manager:TEAM[,TEAM...]`` (team slugs). ``GROUP`` is a
    value of the groups claim exactly as the provider sends it (Entra ID sends object ids,
    Keycloak may send paths such as ``/aftercare/hr``), or ``email:ADDRESS``. The same group
    twice is refused: which entry would win is not obvious.
    """
    name = "AFTERCARE_OIDC_ROLE_MAP"
    entries: list[tuple[str, RoleGrant]] = []
    seen: set[str] = set()
    for part in re.split(r"[;\n]", raw):
        part = part.strip()
        if not part:
            continue
        key, equals, value = part.rpartition("=")
        key, value = key.strip(), value.strip()
        if not equals or not key:
            raise ConfigError(f"{name}: {part!r} is not GROUP=ROLE; use {ROLE_MAP_FORM}")
        role, _colon, team_text = value.partition(":")
        role = role.strip().lower()
        teams = tuple(t.strip() for t in team_text.split(",") if t.strip())
        if role not in SSO_ROLES:
            raise ConfigError(f"{name}: {part!r}: unknown role {role!r}; use admin, hr or "
                              "manager:TEAM")
        if role == "manager" and not teams:
            raise ConfigError(f"{name}: {part!r}: a manager needs teams, e.g. "
                              f"{key}=manager:payments,platform")
        if role != "manager" and teams:
            raise ConfigError(f"{name}: {part!r}: only manager entries name teams ({role} "
                              "sees every team)")
        if key.lower().startswith("email:"):
            key = "email:" + key[6:].strip().lower()
        if key in seen:
            raise ConfigError(f"{name}: {key!r} appears twice")
        seen.add(key)
        entries.append((key, RoleGrant(role, teams)))
    if not entries:
        raise ConfigError(f"{name} is empty: no one could sign in; use {ROLE_MAP_FORM}")
    return tuple(entries)


def parse_mfa(raw: str | None) -> tuple[tuple[str, str], ...]:
    """AFTERCARE_OIDC_MFA: ``amr:VALUE`` and ``acr:VALUE`` entries separated by commas
    (default ``amr:mfa``), or ``off`` to always ask for Aftercare's own code."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return (("amr", "mfa"),)
    if text.lower() == "off":
        return ()
    pairs = []
    for part in text.split(","):
        claim, colon, value = part.strip().partition(":")
        if claim.strip().lower() not in ("amr", "acr") or not colon or not value.strip():
            raise ConfigError(f"AFTERCARE_OIDC_MFA={raw!r}: use amr:VALUE or acr:VALUE "
                              "entries separated by commas (e.g. amr:mfa,amr:hwk), or off")
        pairs.append((claim.strip().lower(), value.strip()))
    return tuple(pairs)


def _https_or_loopback(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{name}={raw!r}: use an https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ConfigError(f"{name}={raw!r}: use https:// (http only on 127.0.0.1 for tests)")
    if parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r}: no query or fragment")
    return raw


def parse_oidc(config: Mapping[str, object]) -> OidcSettings | None:
    """The AFTERCARE_OIDC_* settings, or None when AFTERCARE_OIDC_ISSUER is unset."""
    issuer = str(config.get("AFTERCARE_OIDC_ISSUER") or "").strip()
    if not issuer:
        stray = [k for k in ("AFTERCARE_OIDC_CLIENT_ID", "AFTERCARE_OIDC_CLIENT_SECRET",
                             "AFTERCARE_OIDC_ROLE_MAP") if config.get(k)]
        if stray:
            raise ConfigError(f"{stray[0]} is set but AFTERCARE_OIDC_ISSUER is not")
        return None
    _https_or_loopback("AFTERCARE_OIDC_ISSUER", issuer)
    client_id = str(config.get("AFTERCARE_OIDC_CLIENT_ID") or "").strip()
    secret = str(config.get("AFTERCARE_OIDC_CLIENT_SECRET") or "").strip()
    if not client_id:
        raise ConfigError("AFTERCARE_OIDC_CLIENT_ID is required with AFTERCARE_OIDC_ISSUER")
    if not secret:
        raise ConfigError("AFTERCARE_OIDC_CLIENT_SECRET is required with "
                          "AFTERCARE_OIDC_ISSUER")
    role_map = parse_role_map(str(config.get("AFTERCARE_OIDC_ROLE_MAP") or ""))
    claim = str(config.get("AFTERCARE_OIDC_GROUPS_CLAIM") or "groups").strip()
    if not re.fullmatch(r"[A-Za-z0-9_:./-]{1,100}", claim):
        raise ConfigError(f"AFTERCARE_OIDC_GROUPS_CLAIM={claim!r}: a claim name")
    scopes = " ".join(str(config.get("AFTERCARE_OIDC_SCOPES") or "openid email profile")
                      .split())
    if "openid" not in scopes.split():
        raise ConfigError(f"AFTERCARE_OIDC_SCOPES={scopes!r}: must include openid")
    return OidcSettings(issuer=issuer, client_id=client_id, client_secret=secret,
                        role_map=role_map, groups_claim=claim, scopes=scopes,
                        mfa=parse_mfa(config.get("AFTERCARE_OIDC_MFA")))  # type: ignore[arg-type]


def parse_local_login(config: Mapping[str, object]) -> bool:
    """AFTERCARE_LOCAL_LOGIN (default 1). Switching passwords off needs single sign-on,
    or nobody could sign in."""
    enabled = parse_flag("AFTERCARE_LOCAL_LOGIN", str(config.get("AFTERCARE_LOCAL_LOGIN", "1")))
    if not enabled and not str(config.get("AFTERCARE_OIDC_ISSUER") or "").strip():
        raise ConfigError("AFTERCARE_LOCAL_LOGIN=0 needs single sign-on "
                          "(AFTERCARE_OIDC_ISSUER), or nobody could sign in")
    return enabled


def parse_slack_api_url(raw: object) -> str:
    """AFTERCARE_SLACK_API_URL: the Web API's base (GovSlack: https://slack-gov.com/api/)."""
    text = str(raw or "").strip() or "https://slack.com/api/"
    _https_or_loopback("AFTERCARE_SLACK_API_URL", text)
    return text if text.endswith("/") else text + "/"


# Every setting that may come from the environment. ``create_app`` reads exactly these
# (``from_environment``), the README's configuration table lists them, and a test checks
# that the two agree.
ENV_KEYS = (
    "DATABASE_URL",
    "AFTERCARE_BASE_URL",
    "AFTERCARE_MAIL",
    "AFTERCARE_MAIL_FROM",
    "AFTERCARE_MIN_GROUP",
    "AFTERCARE_OPEN_DELAY",
    "AFTERCARE_SURVEY_DURATION",
    "AFTERCARE_REDIS_URL",
    "AFTERCARE_SUPPORT_CONTACT",
    "AFTERCARE_POOL_PERIOD",
    "AFTERCARE_SURVEY_LIMIT",
    "AFTERCARE_SURVEY_LIMIT_WINDOW",
    "AFTERCARE_REMIND_WEEKENDS",
    "AFTERCARE_TRUSTED_PROXIES",
    "AFTERCARE_SESSION_IDLE",
    "AFTERCARE_SESSION_MAX",
    "AFTERCARE_LIMIT_LOGIN",
    "AFTERCARE_LIMIT_RESET",
    "AFTERCARE_LIMIT_LINK",
    "AFTERCARE_LIMIT_LINK_MISS",
    "AFTERCARE_LIMIT_API",
    "AFTERCARE_RETENTION_DAYS",
    "AFTERCARE_OIDC_ISSUER",
    "AFTERCARE_OIDC_CLIENT_ID",
    "AFTERCARE_OIDC_CLIENT_SECRET",
    "AFTERCARE_OIDC_ROLE_MAP",
    "AFTERCARE_OIDC_GROUPS_CLAIM",
    "AFTERCARE_OIDC_SCOPES",
    "AFTERCARE_OIDC_MFA",
    "AFTERCARE_LOCAL_LOGIN",
    "AFTERCARE_SLACK_TOKEN",
    "AFTERCARE_SLACK_API_URL",
    "RATELIMIT_ENABLED",
    "AFTERCARE_DB_POOL_SIZE",
)
# Names an earlier version read, still read when the new name is not set (docs/operations.md).
RENAMED_ENV_KEYS = {
    "AFTERCARE_MAX_PULSES": "AFTERCARE_SURVEY_LIMIT",
    "AFTERCARE_PULSE_WINDOW": "AFTERCARE_SURVEY_LIMIT_WINDOW",
}
# Read by ``load_secret_key`` itself (never copied into the config mapping).
SECRET_ENV_KEY = "AFTERCARE_SECRET_KEY"


def from_environment(environ: Mapping[str, str]) -> dict[str, object]:
    """The settings present in ``environ``, as ``app.config`` entries.

    Values stay text (each is parsed, with an error naming it, where it is used), except
    ``RATELIMIT_ENABLED``, which Flask-Limiter takes as a boolean.
    """
    found: dict[str, object] = {k: environ[k] for k in ENV_KEYS if environ.get(k)}
    for old, new in RENAMED_ENV_KEYS.items():
        if environ.get(old) and new not in found:
            found[new] = environ[old]
    if "RATELIMIT_ENABLED" in found:
        found["RATELIMIT_ENABLED"] = parse_flag("RATELIMIT_ENABLED",
                                                str(found["RATELIMIT_ENABLED"]))
    return found
