"""Client authentication at the token and introspection endpoints, as Keycloak 26 does it:
``client_secret_basic``, ``client_secret_post``, ``private_key_jwt`` (RFC 7523) and public
clients (``client_id`` only). Pure: takes the form, the Authorization header and the time.

Error answers follow Keycloak's ``ClientIdAndSecretAuthenticator`` and
``JWTClientAuthenticator``/``AbstractBaseJWTValidator`` (see docs/devidp.md).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._jwk import key_from_jwk
from .._jws import ALGORITHMS, b64url_decode
from ._jwsinput import MalformedAssertion, parse_assertion
from ._oauth_error import INVALID_CREDENTIALS, OAuthError
from ._realm import Client, Realm

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_MAX_EXP = 60
"""Keycloak's default maximum client-assertion lifetime in seconds (26.1+)."""
ASSERTION_CLOCK_SKEW = 15
"""Allowed clock skew for client assertions in seconds."""
_JWT_FAILED = "Client authentication with signed JWT failed: "


class JtiCache:
    """Seen client-assertion ``jti`` values until they expire (Keycloak's single-use cache)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def put_if_absent(self, key: str, expires_at: float, now: float) -> bool:
        """Remember ``key`` until ``expires_at``; False when it is already remembered."""
        with self._lock:
            for k in [k for k, exp in self._seen.items() if exp <= now]:
                del self._seen[k]
            if key in self._seen:
                return False
            self._seen[key] = expires_at
            return True


@dataclass(frozen=True)
class AuthContext:
    """What client authentication needs besides the request."""

    realm: Realm
    """The realm."""
    issuer: str
    """The issuer as seen by this request (a valid assertion ``aud``)."""
    token_endpoint: str
    """The token endpoint as seen by this request (the other valid ``aud``)."""
    now: float
    """Current time."""
    jti_cache: JtiCache
    """Replay cache for assertion ``jti``."""


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    if not sep:
        return None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)


def presented_client_id(form: Mapping[str, str], authorization: str | None) -> str | None:
    """The client id the request names (form, Basic header, or assertion ``sub``)."""
    if form.get("client_id"):
        return form["client_id"]
    basic = _basic(authorization)
    if basic:
        return basic[0]
    assertion = form.get("client_assertion")
    if assertion:
        try:
            sub = json.loads(b64url_decode(assertion.split(".")[1])).get("sub")
        except (ValueError, IndexError, AttributeError):
            return None
        return sub if isinstance(sub, str) else None
    return None


def authenticate_client(
    ctx: AuthContext, form: Mapping[str, str], authorization: str | None
) -> Client:
    """Authenticate the client of a request; raise :class:`OAuthError` as Keycloak would."""
    assertion = form.get("client_assertion")
    if form.get("client_assertion_type") is not None or assertion is not None:
        return _authenticate_jwt(ctx, form)
    basic = _basic(authorization)
    client_id, secret = (basic if basic else (None, None))
    if form.get("client_id"):
        client_id = form["client_id"]
    if "client_secret" in form:
        secret = form["client_secret"]
    if not client_id:
        raise OAuthError(401, "invalid_client", INVALID_CREDENTIALS)
    client = ctx.realm.clients.get(client_id)
    if client is None or not client.enabled:
        raise OAuthError(401, "invalid_client", INVALID_CREDENTIALS)
    if client.public:
        return client
    if client.authenticator == "client-jwt":
        # Only the client's configured authenticator runs; a secret is not an assertion.
        raise OAuthError(400, "invalid_client", "Parameter client_assertion_type is missing")
    if secret is None or client.secret is None or not hmac.compare_digest(
            secret.encode("utf-8"), client.secret.encode("utf-8")):
        raise OAuthError(401, "unauthorized_client", INVALID_CREDENTIALS)
    return client


def _fail(description: str) -> OAuthError:
    return OAuthError(400, "invalid_client", description)


def _authenticate_jwt(ctx: AuthContext, form: Mapping[str, str]) -> Client:
    kind = form.get("client_assertion_type")
    if kind is None:
        raise _fail("Parameter client_assertion_type is missing")
    assertion = form.get("client_assertion")
    if assertion is None:
        raise _fail("client_assertion parameter missing")
    # Keycloak parses the assertion (to find the client) before it checks the type.
    try:
        parsed = parse_assertion(assertion)
    except MalformedAssertion as exc:
        raise _fail(_JWT_FAILED + str(exc)) from exc
    if kind != JWT_BEARER:
        raise _fail(f"Parameter client_assertion_type has value '{kind}' but expected is "
                    f"'{JWT_BEARER}'")
    header, claims = parsed.header, parsed.claims
    sub = claims.get("sub")
    if not isinstance(sub, str):
        raise _fail("Token sub claim is required")
    if form.get("client_id") is not None and form["client_id"] != sub:
        raise _fail("client_id parameter does not match authenticated client")
    if claims.get("iss") != sub:
        raise _fail(_JWT_FAILED + "Issuer mismatch. The issuer should match the subject")
    client = ctx.realm.clients.get(sub)
    if client is None or not client.enabled:
        raise OAuthError(401, "invalid_client", INVALID_CREDENTIALS)
    if client.authenticator != "client-jwt":
        raise OAuthError(401, "unauthorized_client", INVALID_CREDENTIALS)
    _check_signature(client, header, parsed.signing_input, parsed.signature)
    _check_audience(ctx, claims.get("aud"))
    _check_active(ctx, claims)
    return client


def _check_signature(client: Client, header: Mapping[str, Any], signed: bytes,
                     signature: bytes) -> None:
    alg = header.get("alg")
    algorithm = ALGORITHMS.get(alg) if isinstance(alg, str) else None
    if algorithm is None or (client.signing_alg is not None and alg != client.signing_alg):
        raise _fail("Invalid signature algorithm")
    kid = header.get("kid")
    candidates = [k for k in client.jwks if k.get("use", "sig") == "sig"
                  and (kid is None or k.get("kid") == kid)]
    if not candidates:
        raise _fail("Unable to load public key")
    try:
        key = key_from_jwk(candidates[0])
    except ValueError as exc:
        raise _fail("Unable to load public key") from exc
    if not algorithm.verify(key, signed, signature):
        raise _fail(_JWT_FAILED + "Signature on JWT token failed validation")


def _check_audience(ctx: AuthContext, aud: Any) -> None:
    values = aud if isinstance(aud, list) else [aud] if isinstance(aud, str) else []
    if not any(v in (ctx.issuer, ctx.token_endpoint) for v in values):
        raise _fail("Invalid token audience")
    if len(values) > 1:
        raise _fail("Multiple audiences not allowed")


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _check_active(ctx: AuthContext, claims: Mapping[str, Any]) -> None:
    now, skew, max_exp = ctx.now, ASSERTION_CLOCK_SKEW, ASSERTION_MAX_EXP
    exp, iat, nbf = _num(claims.get("exp")), _num(claims.get("iat")), _num(claims.get("nbf"))
    if exp is None:
        raise _fail("Token exp claim is required")
    if exp + skew <= now or (nbf is not None and nbf - skew > now):
        raise _fail("Token is not active")
    lifespan = exp - now
    if iat is None:
        if lifespan > max_exp:
            raise _fail("Token expiration is too far in the future and iat claim not "
                        "present in token")
    else:
        if iat - skew > now:
            raise _fail("Token was issued in the future")
        lifespan = min(lifespan, max_exp)
        if lifespan <= 0:
            raise _fail("Token is not active")
        if now > iat + max_exp:
            raise _fail("Token was issued too far in the past to be used now")
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise _fail("Token jti claim is required")
    if not ctx.jti_cache.put_if_absent(f"{claims.get('sub')}:{jti}", now + lifespan, now):
        raise _fail("Token reuse detected")
