"""``ProviderProfile``: what a receiver must know of one identity provider's tokens (pure).

A profile is data plus small pure functions on a token's claims: how a service-account
token is told from a user token, which claim names the calling client, where roles and
scopes live, which token ``typ`` values (the JOSE header's, and Keycloak's ``typ`` claim)
mark an access token, and where the discovery document is. ``Verifier``, ``ServicePolicy``,
``UserPolicy`` and ``OnBehalfOfPolicy`` take a ``profile=`` and read only these fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["WELL_KNOWN_OIDC", "ClaimsRule", "ProviderProfile", "oidc_discovery_url"]

ClaimsRule = Callable[[Mapping[str, Any]], bool]
"""A yes/no question on verified claims (for example: is this a service-account token?)."""

WELL_KNOWN_OIDC = "/.well-known/openid-configuration"


class _FromProfile:
    """The default of a setting the provider profile decides (``token_types``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FROM_PROFILE"


FROM_PROFILE: Any = _FromProfile()
"""A setting's default meaning "what the ``profile`` says" (``Verifier(token_types=...)``)."""


def oidc_discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery §4: ``<issuer>/.well-known/openid-configuration``."""
    return issuer.rstrip("/") + WELL_KNOWN_OIDC


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """One provider's token conventions, as the receiver reads them."""

    name: str
    """A short name (``keycloak``, ``rfc9068``), for messages and ``repr``."""
    service_account: ClaimsRule
    """True for a service-account (client-credentials) token, false for a user's."""
    client_id_claims: tuple[str, ...]
    """Claims naming the calling client, in order: the first string-valued one wins."""
    roles: Callable[[Mapping[str, Any]], frozenset[str]]
    """The token's roles as ``"<client>:<role>"`` / ``"realm:<role>"`` (or the provider's
    own spelling), the strings ``required_roles`` are matched against."""
    scopes: Callable[[Mapping[str, Any]], frozenset[str]]
    """The token's granted scopes."""
    token_types: tuple[str, ...] | None
    """Accepted values of a ``typ`` *claim* (Keycloak's ``Bearer``); ``None``: not checked
    (a provider without that claim)."""
    header_types: tuple[str, ...] | None
    """Accepted JOSE header ``typ`` values (lower case, RFC 7515 §4.1.9 compares them so);
    ``None``: absent, ``JWT`` or ``at+jwt``, the verifier's default."""
    discovery_url: Callable[[str], str] = oidc_discovery_url
    """Issuer → the URL of its discovery document."""

    def client_id(self, claims: Mapping[str, Any]) -> str | None:
        """The calling client's id: the first of :attr:`client_id_claims` holding a string."""
        for name in self.client_id_claims:
            value = claims.get(name)
            if type(value) is str and value:
                return value
        return None

    def __repr__(self) -> str:
        return f"ProviderProfile({self.name!r})"
