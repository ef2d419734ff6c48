"""Single sign-on with OpenID Connect (Authlib's Flask client): the protocol side.

The authorization code flow with PKCE (S256), ``state`` and ``nonce``: Authlib keeps the
state's data (the nonce, the PKCE verifier, the redirect URI) in the session under the
state's name and this module removes it before anything else happens, so a state works
once. The provider's discovery document and JWKS come from ``AFTERCARE_OIDC_ISSUER``; the
document must name that very issuer. The ID token's signature is checked against the JWKS
with the asymmetric algorithms the document lists (never ``none``, never a shared-secret
algorithm), and its claims: ``iss`` is the configured issuer, ``aud`` holds the client id
(``azp`` too when several audiences), ``exp``, ``iat`` and ``nonce``; ``at_hash`` when
present.

Everything that goes wrong becomes :class:`SsoRefused` with a plain message for the page,
an HTTP status and a short reason for the audit log: a malformed or replayed callback, a
provider that cannot be reached or answers nonsense, an ID token that fails a check. This
module makes no account and writes nothing; :mod:`surveys.services.sso` does, from the
:class:`Identity` returned here. See docs/sso.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, request, session
from joserfc.errors import JoseError

from surveys.config import OidcSettings
from surveys.services.sso import Identity

log = logging.getLogger(__name__)

NAME = "oidc"
EXTENSION = "aftercare.sso"
TIMEOUT = 10  # seconds for each request to the provider
LEEWAY = 60  # seconds of clock difference allowed on exp, iat and nbf
MAX_PARAM = 2048  # longest code or state accepted from the callback
MAX_ID_TOKEN = 16 * 1024
# Signature algorithms an ID token may use: asymmetric ones only, so that the key is the
# provider's published one and never the client secret; ``none`` is never allowed.
SAFE_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                   "ES256", "ES384", "ES512", "EdDSA", "Ed25519")


class SsoRefused(Exception):
    """Single sign-on refused: ``message`` for the person, ``reason`` for the audit log."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.message = message
        self.status = status


UNREACHABLE = ("The sign-in service could not be reached just now, so you are not signed "
               "in. Try again in a minute; if it keeps happening, tell your Aftercare admin.")
BAD_RESPONSE = ("The sign-in service answered in a way Aftercare cannot trust, so you are not "
                "signed in. Try again; if it keeps happening, tell your Aftercare admin.")
START_AGAIN = ("This sign-in link has expired or was already used, so you are not signed in. "
               "Start again from the sign-in page.")


def init_app(app: Flask) -> None:
    """Register the provider with Authlib when single sign-on is configured. Nothing is
    fetched here: the discovery document is read at the first sign-in (and by
    ``flask sso check``), so the app starts while the provider is down."""
    oidc: OidcSettings | None = app.extensions["aftercare.settings"].oidc
    if oidc is None:
        return
    oauth = OAuth(app)
    client = oauth.register(
        NAME,
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=discovery_url(oidc.issuer),
        client_kwargs={"scope": oidc.scopes, "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic",
                       "default_timeout": TIMEOUT},
    )
    app.extensions[EXTENSION] = client


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def _client():
    return current_app.extensions[EXTENSION]


def _oidc() -> OidcSettings:
    return current_app.extensions["aftercare.settings"].oidc


def metadata() -> Mapping[str, object]:
    """The provider's discovery document, fetched once per process and checked: it names the
    configured issuer, an authorization, token and JWKS endpoint, and S256 for PKCE when it
    lists PKCE methods at all. Raises :class:`SsoRefused`."""
    client = _client()
    try:
        loaded = client.load_server_metadata()
    except requests.RequestException as exc:
        client.server_metadata.pop("_loaded_at", None)
        log.warning("single sign-on: discovery document not fetched: %s", type(exc).__name__)
        raise SsoRefused(f"provider unreachable: {type(exc).__name__}", UNREACHABLE, 503) \
            from exc
    except ValueError as exc:  # not JSON
        client.server_metadata.pop("_loaded_at", None)
        raise SsoRefused("discovery document is not JSON", BAD_RESPONSE, 502) from exc
    problem = _metadata_problem(loaded, _oidc().issuer)
    if problem:
        # Not kept: the next sign-in fetches it again (the provider may be fixed by then).
        for key in list(client.server_metadata):
            if key not in ("client_id", "client_secret"):
                client.server_metadata.pop(key, None)
        log.error("single sign-on: discovery document refused: %s", problem)
        raise SsoRefused(f"discovery document: {problem}", BAD_RESPONSE, 502)
    algorithms = loaded.get("id_token_signing_alg_values_supported")
    safe = [a for a in algorithms if a in SAFE_ALGORITHMS] if isinstance(algorithms, list) \
        else []
    loaded["id_token_signing_alg_values_supported"] = safe or ["RS256"]
    return loaded


def _metadata_problem(document: Mapping[str, object], issuer: str) -> str | None:
    if not isinstance(document, Mapping):
        return "not a JSON object"
    named = document.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        return f"names issuer {str(named)[:100]!r}, not {issuer!r}"
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            return f"no {key}"
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        return "PKCE with S256 is not supported"
    return None


def begin(redirect_uri: str):
    """The redirect to the provider's sign-in page; the state's data goes into the session."""
    metadata()
    try:
        return _client().authorize_redirect(redirect_uri)
    except requests.RequestException as exc:
        raise SsoRefused(f"provider unreachable: {type(exc).__name__}", UNREACHABLE, 503) \
            from exc


def finish() -> Identity:
    """Check the callback, exchange the code (with the PKCE verifier) and verify the ID
    token. The state's data is removed from the session first, whatever happens next."""
    client = _client()
    args = request.args
    state = args.get("state", "")
    if not state or len(state) > MAX_PARAM or len(args.get("code", "")) > MAX_PARAM:
        raise SsoRefused("callback without a usable state", START_AGAIN, 400)
    framework = client.framework
    data = framework.get_state_data(session, state)
    framework.clear_state_data(session, state)
    if not isinstance(data, dict) or not data.get("nonce"):
        raise SsoRefused("state unknown or already used", START_AGAIN, 400)
    if args.get("error"):
        error = str(args.get("error"))[:60]
        raise SsoRefused(f"provider said {error}",
                         "The sign-in service did not sign you in "
                         f"({error}). Start again from the sign-in page.", 403)
    code = args.get("code", "")
    if not code:
        raise SsoRefused("callback without a code", START_AGAIN, 400)
    iss = args.get("iss")
    if iss is not None and iss.rstrip("/") != _oidc().issuer.rstrip("/"):
        # RFC 9207: a response from another provider (a mix-up attack).
        raise SsoRefused("callback from another issuer", BAD_RESPONSE, 400)
    document = metadata()
    try:
        token = client.fetch_access_token(code=code, redirect_uri=data.get("redirect_uri"),
                                          code_verifier=data.get("code_verifier"))
    except requests.RequestException as exc:
        raise SsoRefused(f"token endpoint unreachable: {type(exc).__name__}", UNREACHABLE,
                         503) from exc
    except OAuthError as exc:
        raise SsoRefused(f"token endpoint refused: {str(exc.error)[:60]}", START_AGAIN, 400) \
            from exc
    except ValueError as exc:
        raise SsoRefused("token response is not JSON", BAD_RESPONSE, 502) from exc
    id_token = token.get("id_token") if isinstance(token, Mapping) else None
    if not isinstance(id_token, str) or not id_token:
        raise SsoRefused("token response without an ID token", BAD_RESPONSE, 502)
    if len(id_token) > MAX_ID_TOKEN:
        raise SsoRefused(f"ID token of {len(id_token)} characters", BAD_RESPONSE, 400)
    try:
        claims = client.parse_id_token(
            token, nonce=data["nonce"], leeway=LEEWAY,
            claims_options={"iss": {"essential": True, "values": [document["issuer"]]},
                            "aud": {"essential": True, "values": [_oidc().client_id]}})
    except JoseError as exc:
        raise SsoRefused(f"ID token refused: {_jose_reason(exc)}", BAD_RESPONSE, 400) from exc
    except requests.RequestException as exc:  # fetching the JWKS
        raise SsoRefused(f"JWKS unreachable: {type(exc).__name__}", UNREACHABLE, 503) from exc
    except (ValueError, TypeError, KeyError) as exc:  # malformed token or JWKS
        raise SsoRefused(f"ID token malformed: {type(exc).__name__}", BAD_RESPONSE, 400) \
            from exc
    return identity_from_claims(dict(claims), id_token, _oidc())


def _jose_reason(exc: JoseError) -> str:
    name = type(exc).__name__
    claim = getattr(exc, "claim", None)
    return f"{name} ({claim})" if claim else name


def _text(claims: Mapping[str, object], key: str, limit: int) -> str:
    value = claims.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SsoRefused(f"claim {key} is a {type(value).__name__}, not text", BAD_RESPONSE,
                         400)
    if len(value) > limit:
        raise SsoRefused(f"claim {key} longer than {limit}", BAD_RESPONSE, 400)
    return value


def _strings(claims: Mapping[str, object], key: str) -> tuple[str, ...]:
    """A claim that may be one string or a list of strings (groups, amr)."""
    value = claims.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if (isinstance(value, list) and len(value) <= 1000
            and all(isinstance(item, str) and len(item) <= 300 for item in value)):
        return tuple(value)
    raise SsoRefused(f"claim {key} is not a list of text", BAD_RESPONSE, 400)


def identity_from_claims(claims: Mapping[str, object], id_token: str,
                         oidc: OidcSettings) -> Identity:
    """The :class:`Identity` of verified claims; claims of an unexpected type are refused."""
    subject = _text(claims, "sub", 255)
    if not subject:
        raise SsoRefused("ID token without a subject", BAD_RESPONSE, 400)
    verified = claims.get("email_verified", False)
    if isinstance(verified, str):  # some providers send "true"
        verified = verified.lower() == "true"
    if not isinstance(verified, bool):
        raise SsoRefused("claim email_verified is not a boolean", BAD_RESPONSE, 400)
    amr = set(_strings(claims, "amr"))
    acr = _text(claims, "acr", 300)
    second_factor = any((kind == "amr" and value in amr) or (kind == "acr" and value == acr)
                        for kind, value in oidc.mfa)
    return Identity(
        issuer=_text(claims, "iss", 255),
        subject=subject,
        email=_text(claims, "email", 254).strip().lower(),
        email_verified=verified,
        name=_text(claims, "name", 500).strip()[:120],
        groups=_strings(claims, oidc.groups_claim),
        second_factor=second_factor,
        id_token=id_token,
    )


def logout_url(id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """The provider's RP-initiated logout address, or None when it offers none (Google) or
    cannot be reached (then only the Aftercare session ends)."""
    try:
        document = metadata()
    except SsoRefused:
        return None
    endpoint = document.get("end_session_endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    params = {"client_id": _oidc().client_id,
              "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token:
        params["id_token_hint"] = id_token
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def check() -> list[tuple[bool, str]]:
    """``flask sso check``: the discovery document and the JWKS, as (ok, line) pairs."""
    oidc = _oidc()
    lines: list[tuple[bool, str]] = []
    try:
        document = metadata()
    except SsoRefused as exc:
        return [(False, f"discovery document at {discovery_url(oidc.issuer)}: {exc.reason}")]
    lines.append((True, f"discovery document names issuer {document['issuer']}"))
    methods = document.get("code_challenge_methods_supported")
    lines.append((True, "PKCE S256 supported" if isinstance(methods, list)
                  else "PKCE methods not listed (S256 is sent anyway)"))
    try:
        keys = _client().fetch_jwk_set(force=True).get("keys", [])
    except (requests.RequestException, ValueError, AttributeError) as exc:
        lines.append((False, f"JWKS at {document['jwks_uri']}: {type(exc).__name__}"))
    else:
        lines.append((bool(keys), f"JWKS has {len(keys)} key(s)"))
    lines.append((True, "ID token algorithms: "
                  + ", ".join(document["id_token_signing_alg_values_supported"])))
    lines.append((True, "RP-initiated logout: " + ("yes" if document.get("end_session_endpoint")
                                                   else "not offered by this provider")))
    scopes = document.get("scopes_supported")
    if isinstance(scopes, list):
        missing = [s for s in oidc.scopes.split() if s not in scopes]
        lines.append((not missing, "scopes " + (f"not offered: {', '.join(missing)}" if missing
                                                else f"{oidc.scopes} offered")))
    claims = document.get("claims_supported")
    if isinstance(claims, list) and oidc.groups_claim not in claims:
        lines.append((True, f"note: claims_supported does not list {oidc.groups_claim!r}; "
                            "check that the provider adds it to ID tokens (docs/sso.md)"))
    return lines
