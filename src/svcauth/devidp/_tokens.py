"""Claims of the tokens the provider issues, laid out as Keycloak 26 lays them out.

Pure functions over the realm model. Keycloak itself writes only ``exp iat jti iss typ azp
sid scope`` (and the ID token's ``sub``, ``at_hash``); every other claim — ``sub``, ``aud``,
roles, profile, ``client_id`` — comes from the protocol mappers of the client and of the client
scopes the request reaches (:mod:`svcauth.realm._scopes`, :mod:`._mappers`). A realm without
the ``basic`` scope therefore gets no ``sub``, one without ``roles`` no ``realm_access``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .._jws import b64url_encode
from ..realm import (
    Client,
    ProtocolMapper,
    Realm,
    ScopeSet,
    User,
    invalid_scopes,
    reached_scopes,
    token_roles,
)
from ._mappers import MapperContext, apply_mappers

JTI_PREFIX_SERVICE_ACCOUNT = "trrtcc:"
"""Keycloak 26 prefixes access-token ``jti`` by session kind: transient, client credentials."""
JTI_PREFIX_USER = "onrtro:"
"""Online session, resource-owner password grant (seen in 26.x; see docs/devidp.md)."""
JTI_PREFIX_OFFLINE = "ofrtro:"
"""Offline session (``offline_access``), resource-owner password grant (26.7.3)."""

__all__ = ["Grant", "access_token_claims", "at_hash", "audience", "id_token_claims",
           "invalid_scopes", "refresh_token_claims", "token_scope"]


@dataclass(frozen=True)
class Grant:
    """What a token is issued for: who, to which client, when, with what requested scope."""

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
    """The request's ``scope`` parameter (validated; the claim is :attr:`scope_claim`)."""
    client_address: str = "127.0.0.1"
    """Caller's IP, for ``clientHost``/``clientAddress`` of service accounts."""
    session_id: str | None = None
    """User session id (``sid``), for user grants only."""

    @cached_property
    def reached(self) -> ScopeSet:
        """The client scopes this request reaches."""
        return reached_scopes(self.realm, self.client, self.scope, self.user)

    @property
    def offline_requested(self) -> bool:
        """A user grant asking for ``offline_access`` (a scope of the client)."""
        return self.user.service_account_client is None and \
            "offline_access" in self.scope.split() and \
            "offline_access" in (*self.client.default_scopes, *self.client.optional_scopes)

    @property
    def offline(self) -> bool:
        """An offline session: ``offline_access`` requested and permitted to the user."""
        return self.offline_requested and "offline_access" in self.reached.names

    @property
    def scope_claim(self) -> str:
        """The access token's ``scope`` claim (and the response's ``scope``)."""
        return self.reached.scope_claim()

    def mappers(self) -> list[ProtocolMapper]:
        """The client's own mappers, then those of each reached scope."""
        out = list(self.client.mappers)
        for scope in self.reached.scopes:
            out.extend(scope.mappers)
        return out

    def context(self) -> MapperContext:
        """A fresh mapper context (roles filtered by the client's role scope)."""
        notes: dict[str, str] = {}
        if self.user.service_account_client is not None:
            notes = {"clientHost": self.client_address, "clientAddress": self.client_address,
                     "client_id": self.client.client_id,
                     "clientId": self.client.client_id}  # Keycloak sets both notes
        return MapperContext(realm=self.realm, client=self.client, user=self.user,
                             roles=token_roles(self.realm, self.user, self.reached), notes=notes)


def token_scope(requested: str) -> str:
    """The requested scope as a :class:`Grant` takes it (kept for callers of old)."""
    return requested


def audience(values: list[str]) -> str | list[str] | None:
    """``aud``: one audience is a string, several a list, none leaves ``aud`` out."""
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)


def _access(grant: Grant, kind: str = "access") -> MapperContext:
    ctx = grant.context()
    apply_mappers(ctx, grant.mappers(), kind,
                  lightweight=kind == "access" and grant.client.lightweight)
    return ctx


def access_token_claims(grant: Grant, *, lifetime: int, jti: str | None = None) -> dict[str, Any]:
    """The access token's claims, in Keycloak 26's order where it matters to readers."""
    ctx = _access(grant)
    prefix = (JTI_PREFIX_SERVICE_ACCOUNT if grant.user.service_account_client else
              JTI_PREFIX_OFFLINE if grant.offline else JTI_PREFIX_USER)
    claims: dict[str, Any] = {"exp": grant.now + lifetime, "iat": grant.now,
                              "jti": jti or f"{prefix}{uuid.uuid4()}", "iss": grant.issuer}
    aud = audience(ctx.audiences)
    if aud is not None:
        claims["aud"] = aud
    if "sub" in ctx.claims:
        claims["sub"] = ctx.claims.pop("sub")
    elif grant.user.service_account_client is not None:
        claims["sub"] = grant.user.id  # client credentials: sub even without the basic scope
    claims["typ"] = "Bearer"
    claims["azp"] = grant.client.client_id
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
    for name, value in ctx.claims.items():
        claims.setdefault(name, value)
    claims["scope"] = grant.scope_claim
    return claims


def introspection_claims(grant: Grant) -> dict[str, Any]:
    """The claims introspection adds from mappers with ``introspection.token.claim``."""
    return _access(grant, "introspection").claims


def userinfo_claims(grant: Grant) -> dict[str, Any]:
    """The ``/userinfo`` answer: what the mappers with ``userinfo.token.claim`` give, ``sub``
    first (the user's id when no mapper gives it)."""
    ctx = _access(grant, "userinfo")
    claims: dict[str, Any] = {"sub": ctx.claims.pop("sub", grant.user.id)}
    claims.update(ctx.claims)
    return claims


def at_hash(access_token: str) -> str:
    """OIDC ``at_hash`` for RS256: left half of SHA-256 of the token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return b64url_encode(digest[: len(digest) // 2])


def id_token_claims(grant: Grant, *, lifetime: int, access_token: str) -> dict[str, Any]:
    """The ID token's claims (``typ`` ``ID``, ``aud`` the client and its ID-token audiences)."""
    ctx = _access(grant, "id")
    auds = [grant.client.client_id, *[a for a in ctx.audiences if a != grant.client.client_id]]
    claims: dict[str, Any] = {
        "exp": grant.now + lifetime, "iat": grant.now,
        "jti": str(uuid.uuid4()), "iss": grant.issuer, "aud": audience(auds),
        "sub": grant.user.id, "typ": "ID", "azp": grant.client.client_id,
    }
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
    claims["at_hash"] = at_hash(access_token)
    for name, value in ctx.claims.items():
        claims.setdefault(name, value)
    return claims


def refresh_token_claims(grant: Grant, *, lifetime: int) -> dict[str, Any]:
    """The refresh token's claims (``typ`` ``Refresh``, ``aud`` the issuer, ``aud_x`` the
    access token's audiences, ``prov`` ``default``, as Keycloak 26.7.3 writes them)."""
    access = _access(grant)
    claims: dict[str, Any] = {
        "exp": grant.now + lifetime, "iat": grant.now, "jti": str(uuid.uuid4()),
        "iss": grant.issuer, "aud": grant.issuer, "sub": grant.user.id,
        "typ": "Offline" if grant.offline else "Refresh", "azp": grant.client.client_id,
    }
    if "sub" not in access.claims:
        del claims["sub"]  # like the access token's, from the basic scope's sub mapper
    if grant.offline:
        del claims["exp"]  # offline tokens have no expiry of their own (26.7.3)
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
    claims["scope"] = grant.reached.refresh_scope_claim()
    aud = audience(access.audiences)
    if aud is not None:
        claims["aud_x"] = aud  # the access token's audiences (Keycloak 26.7)
    claims["prov"] = "default"
    return claims
