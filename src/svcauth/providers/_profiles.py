"""The profiles svcauth ships: Keycloak and generic RFC 9068 (pure).

Provider quirks go here, one profile (or one rule) each, with the source of every fact;
a quirk confirmed against a real provider gets a test beside tests/oidc_provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._profile import ProviderProfile, oidc_discovery_url
from ._roles import keycloak_roles, rfc9068_roles, scopes_of

__all__ = ["KEYCLOAK", "RFC9068", "keycloak_service_account", "rfc9068_service_account"]


def keycloak_service_account(claims: Mapping[str, Any]) -> bool:
    """Keycloak: a service-account token carries ``client_id`` equal to ``azp`` (its
    ``service_account`` client scope's mappers add ``client_id``; user tokens have none)."""
    client_id = claims.get("client_id")
    return type(client_id) is str and bool(client_id) and client_id == claims.get("azp")


def rfc9068_service_account(claims: Mapping[str, Any]) -> bool:
    """RFC 9068 §2.2: in a client-credentials token ``sub`` is the ``client_id``."""
    client_id = claims.get("client_id")
    return type(client_id) is str and bool(client_id) and client_id == claims.get("sub")


KEYCLOAK = ProviderProfile(
    name="keycloak",
    service_account=keycloak_service_account,
    # azp is the client a token was issued to (user tokens too); client_id only on
    # service-account tokens.
    client_id_claims=("azp", "client_id"),
    roles=keycloak_roles,   # realm_access.roles, resource_access.<client>.roles
    scopes=scopes_of,       # the space-separated scope claim
    token_types=("Bearer",),  # the typ claim: ID and Refresh tokens are refused
    header_types=None,      # JWT, or at+jwt with "Use RFC 9068 access token header type"
    discovery_url=oidc_discovery_url,  # <base>[/auth]/realms/<realm>/.well-known/...
)
"""Keycloak (checked against Keycloak 26, /work/shared/KEYCLOAK-NOTES.md)."""

RFC9068 = ProviderProfile(
    name="rfc9068",
    service_account=rfc9068_service_account,
    client_id_claims=("client_id",),  # §2.2: client_id is required; azp is optional
    roles=rfc9068_roles,    # §2.2.3.1: roles, groups, entitlements as "<claim>:<value>"
    scopes=scopes_of,       # §2.2.3: scope, space separated
    token_types=None,       # no typ claim in RFC 9068
    header_types=("at+jwt", "application/at+jwt"),  # §2.1 / §4: MUST be checked
    discovery_url=oidc_discovery_url,
)
"""Any provider issuing RFC 9068 JWT access tokens (tested against panva's oidc-provider,
tests/oidc_provider)."""
