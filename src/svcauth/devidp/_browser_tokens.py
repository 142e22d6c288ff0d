"""Tokens of the browser flow: the code grant's and the browser refresh grant's access, ID
and refresh tokens, and the ``/userinfo`` answer.

:func:`user_claims` is the ONE place that asks the user-token claim builder (``_tokens``)
for claims; switch it to another claim engine there. What the browser flow adds on top is
Keycloak 26.7.3's: ``auth_time`` after ``iat`` (access and ID token), ``nonce`` after ``azp``
(ID token only), per-grant ``jti`` prefixes on the access token.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from . import _tokens
from ._issuer import TokenIssuer
from ._tokens import Grant

JTI_PREFIX_CODE = "onrtac:"
"""Access-token ``jti`` prefix of the authorization-code grant (Keycloak 26.7)."""
JTI_PREFIX_REFRESH = "onrtrt:"
"""Access-token ``jti`` prefix of a refresh (Keycloak 26.7)."""

Kind = Literal["access", "id", "refresh", "userinfo"]


def _insert_after(claims: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in claims.items():
        out[k] = v
        if k == after:
            out[key] = value
    if key not in out:
        out[key] = value
    return out


def user_claims(kind: Kind, grant: Grant, *, lifetime: int = 0, access_token: str = "",
                jti: str | None = None) -> dict[str, Any]:
    """The claims the user-token claim builder gives for ``kind`` (the merge point)."""
    if kind == "access":
        return _tokens.access_token_claims(grant, lifetime=lifetime, jti=jti)
    if kind == "id":
        return _tokens.id_token_claims(grant, lifetime=lifetime, access_token=access_token)
    if kind == "refresh":
        return _tokens.refresh_token_claims(grant, lifetime=lifetime)
    return _tokens.userinfo_claims(grant)


def browser_tokens(issuer: TokenIssuer, grant: Grant, *, auth_time: int, nonce: str | None,
                   refresh_lifetime: int, jti_prefix: str,
                   id_token: bool) -> tuple[dict[str, Any], str]:
    """The token response body of a code or browser-refresh grant, and the new refresh
    token's ``jti`` (for rotation)."""
    life = grant.client.token_lifespan(issuer.realm.access_token_lifespan)
    access = user_claims("access", grant, lifetime=life, jti=f"{jti_prefix}{uuid.uuid4()}")
    access = _insert_after(access, "iat", "auth_time", auth_time)
    token = issuer.keys.sign(access)
    refresh = user_claims("refresh", grant, lifetime=refresh_lifetime)
    body: dict[str, Any] = {"access_token": token, "expires_in": life,
                            "refresh_expires_in": refresh_lifetime,
                            "refresh_token": issuer.keys.sign_hmac(refresh),
                            "token_type": "Bearer"}
    if id_token:
        claims = user_claims("id", grant, lifetime=life, access_token=token)
        claims = _insert_after(claims, "iat", "auth_time", auth_time)
        if nonce is not None:
            claims = _insert_after(claims, "azp", "nonce", nonce)
        body["id_token"] = issuer.keys.sign(claims)
    body.update({"not-before-policy": 0, "session_state": grant.session_id,
                 "scope": grant.scope_claim})
    return body, str(refresh["jti"])
