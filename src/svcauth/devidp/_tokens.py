"""Claims of the tokens the provider issues, laid out as Keycloak 26 lays them out.

Pure functions over the realm model. Every Keycloak-specific choice (claim names, which
claims a service account or a user gets, the default ``scope``) sits in a constant or one
small function here, so that the comparison with a real Keycloak can adjust it in one place.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._jws import b64url_encode
from ._realm import Client, Realm, User
from ._role_mapper import role_claim_values

DEFAULT_TOKEN_SCOPES: tuple[str, ...] = ("email", "profile")
"""Default client scopes that Keycloak names in the ``scope`` claim, in its order."""

OPTIONAL_SCOPES: frozenset[str] = frozenset(
    {"address", "phone", "offline_access", "microprofile-jwt", "organization"})
"""Keycloak's built-in optional client scopes: may be requested, named in ``scope``."""

JTI_PREFIX_SERVICE_ACCOUNT = "trrtcc:"
"""Keycloak 26 prefixes access-token ``jti`` by session kind: transient, client credentials."""
JTI_PREFIX_USER = "onrtro:"
"""Online session, resource-owner password grant (seen in 26.x; see docs/devidp.md)."""

SILENT_SCOPES: frozenset[str] = frozenset(
    {"acr", "basic", "roles", "web-origins", "service_account"})
"""Default scopes that may be requested but never appear in the ``scope`` claim."""


@dataclass(frozen=True)
class Grant:
    """What a token is issued for: who, to which client, when, with what scope."""

    realm: Realm
    """The realm."""
    client: Client
    """The authenticated client (``azp``)."""
    user: User
    """The subject: a service-account user or a real user."""
    issuer: str
    """``iss``."""
    now: int
    """Issue time, seconds since the epoch."""
    scope: str
    """The ``scope`` claim (see :func:`token_scope`)."""
    client_address: str = "127.0.0.1"
    """Caller's IP, for ``clientHost``/``clientAddress`` of service accounts."""
    session_id: str | None = None
    """User session id (``sid``), for user grants only."""


def invalid_scopes(requested: str) -> list[str]:
    """The requested scope values this realm's clients cannot have (Keycloak's check)."""
    allowed = {"openid"} | set(DEFAULT_TOKEN_SCOPES) | OPTIONAL_SCOPES | SILENT_SCOPES
    return [s for s in requested.split() if s not in allowed]


def token_scope(requested: str) -> str:
    """The ``scope`` claim: ``openid`` if asked for, the defaults, then requested optionals."""
    asked = requested.split()
    parts = ["openid"] if "openid" in asked else []
    parts += list(DEFAULT_TOKEN_SCOPES)
    parts += [s for s in dict.fromkeys(asked) if s in OPTIONAL_SCOPES]
    return " ".join(parts)


def audience(client: Client, resource_access: dict[str, Any]) -> str | list[str] | None:
    """``aud``: Keycloak's audience-resolve mapper (every other client with a role in the
    token) plus the client's own ``oidc-audience-mapper`` audiences.

    One audience is a string, several a list, none leaves ``aud`` out.
    """
    aud = [c for c in resource_access if c != client.client_id]
    aud += [a for a in client.added_audiences if a not in aud]
    if not aud:
        return None
    return aud[0] if len(aud) == 1 else aud


def _roles(grant: Grant) -> tuple[dict[str, Any], dict[str, Any]]:
    realm_roles, client_roles = grant.realm.effective_roles(grant.user)
    realm_access = {"roles": realm_roles} if realm_roles else {}
    resource_access = {c: {"roles": r} for c, r in client_roles.items()}
    return realm_access, resource_access


def _profile(user: User) -> dict[str, Any]:
    out: dict[str, Any] = {"email_verified": user.email_verified}
    full = " ".join(p for p in (user.first_name, user.last_name) if p)
    if full:
        out["name"] = full
    out["preferred_username"] = user.username
    if user.first_name:
        out["given_name"] = user.first_name
    if user.last_name:
        out["family_name"] = user.last_name
    if user.email:
        out["email"] = user.email
    return out


def access_token_claims(grant: Grant, *, lifetime: int, jti: str | None = None) -> dict[str, Any]:
    """The access token's claims, in Keycloak 26's order."""
    realm_access, resource_access = _roles(grant)
    claims: dict[str, Any] = {
        "exp": grant.now + lifetime,
        "iat": grant.now,
    }
    prefix = JTI_PREFIX_SERVICE_ACCOUNT if grant.user.service_account_client else JTI_PREFIX_USER
    claims["jti"] = jti or f"{prefix}{uuid.uuid4()}"
    claims["iss"] = grant.issuer
    aud = audience(grant.client, resource_access)
    if aud is not None:
        claims["aud"] = aud
    claims["sub"] = grant.user.id
    claims["typ"] = "Bearer"
    claims["azp"] = grant.client.client_id
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
    claims["acr"] = "1"
    if grant.client.web_origins:
        claims["allowed-origins"] = list(grant.client.web_origins)
    if realm_access:
        claims["realm_access"] = realm_access
    if resource_access:
        claims["resource_access"] = resource_access
    claims["scope"] = grant.scope
    _, client_roles = grant.realm.effective_roles(grant.user)
    claims.update(role_claim_values(grant.client.role_claims, client_roles))
    if grant.user.service_account_client is not None:
        claims["clientHost"] = grant.client_address
        claims["email_verified"] = False
        claims["preferred_username"] = grant.user.username
        claims["clientAddress"] = grant.client_address
        claims["client_id"] = grant.client.client_id
    else:
        claims.update(_profile(grant.user))
    return claims


def at_hash(access_token: str) -> str:
    """OIDC ``at_hash`` for RS256: left half of SHA-256 of the token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url_encode(digest[: len(digest) // 2])


def id_token_claims(grant: Grant, *, lifetime: int, access_token: str) -> dict[str, Any]:
    """The ID token's claims (``typ`` ``ID``, ``aud`` the client), for user grants."""
    claims: dict[str, Any] = {
        "exp": grant.now + lifetime, "iat": grant.now,
        "jti": str(uuid.uuid4()), "iss": grant.issuer, "aud": grant.client.client_id,
        "sub": grant.user.id, "typ": "ID", "azp": grant.client.client_id,
    }
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
    claims["at_hash"] = at_hash(access_token)
    claims["acr"] = "1"
    claims.update(_profile(grant.user))
    return claims


def refresh_token_claims(grant: Grant, *, lifetime: int) -> dict[str, Any]:
    """The refresh token's claims (``typ`` ``Refresh``, ``aud`` the issuer, ``aud_x`` the
    access token's audiences, ``prov`` ``default``, as Keycloak 26.7.3 writes them)."""
    scope_words: Sequence[str] = [*grant.scope.split(), "basic", "roles", "web-origins", "acr"]
    claims: dict[str, Any] = {
        "exp": grant.now + lifetime, "iat": grant.now, "jti": str(uuid.uuid4()),
        "iss": grant.issuer, "aud": grant.issuer, "sub": grant.user.id, "typ": "Refresh",
        "azp": grant.client.client_id,
    }
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
    claims["scope"] = " ".join(scope_words)
    aud = audience(grant.client, _roles(grant)[1])
    if aud is not None:
        claims["aud_x"] = aud  # the access token's audiences (Keycloak 26.7)
    claims["prov"] = "default"
    return claims
