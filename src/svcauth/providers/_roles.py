"""Where roles and scopes live in a token, per provider (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RFC9068_ROLE_CLAIMS", "keycloak_roles", "rfc9068_roles", "scopes_of"]

RFC9068_ROLE_CLAIMS = ("roles", "groups", "entitlements")
"""RFC 9068 §2.2.3.1: the RFC 7643 attributes an access token may carry."""


def scopes_of(payload: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from ``scope`` (RFC 8693/9068, a space-separated string) or ``scp`` (a list)."""
    scope = payload.get("scope")
    if type(scope) is str:
        return frozenset(scope.split())
    scp = payload.get("scp")
    if type(scp) is list:
        return frozenset(s for s in scp if type(s) is str)
    if type(scp) is str:
        return frozenset(scp.split())
    return frozenset()


def keycloak_roles(claims: Mapping[str, Any]) -> frozenset[str]:
    """Keycloak: ``realm:<role>`` for realm roles and ``<client>:<role>`` for client roles.

    A requirement is split at its first colon, so only names that split back the same way
    are listed: roles of a client called ``realm`` or whose id holds a colon are left out.
    Otherwise client ``a:b`` with role ``c`` would spell ``a:b:c``, the same string as client
    ``a``'s role ``b:c``, and a client named ``realm`` could spell any realm role.
    """
    roles: set[str] = set()
    realm = claims.get("realm_access")
    if isinstance(realm, Mapping) and isinstance(realm.get("roles"), list):
        roles.update(f"realm:{r}" for r in realm["roles"] if type(r) is str)
    resources = claims.get("resource_access")
    if isinstance(resources, Mapping):
        for client, access in resources.items():
            if type(client) is not str or client == "realm" or ":" in client:
                continue
            if isinstance(access, Mapping) and isinstance(access.get("roles"), list):
                roles.update(f"{client}:{r}" for r in access["roles"] if type(r) is str)
    return frozenset(roles)


def rfc9068_roles(claims: Mapping[str, Any]) -> frozenset[str]:
    """RFC 9068: ``roles:<value>``, ``groups:<value>``, ``entitlements:<value>`` from those
    claims (each a list of strings, or one space-separated string), so requirements keep
    the ``"<owner>:<name>"`` spelling."""
    held: set[str] = set()
    for claim in RFC9068_ROLE_CLAIMS:
        value = claims.get(claim)
        items = value.split() if type(value) is str else value if type(value) is list else ()
        held.update(f"{claim}:{v}" for v in items if type(v) is str and v)
    return frozenset(held)
