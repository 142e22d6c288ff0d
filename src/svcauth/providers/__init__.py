"""Provider profiles: one place for what differs between identity providers' tokens.

>>> from svcauth.providers import RFC9068
>>> verifier = Verifier(issuer=ISSUER, audience="notification-service",   # doctest: +SKIP
...                     key_set=keys, profile=RFC9068)
>>> policy = ServicePolicy(allowed_clients={"shop-api"}, profile=RFC9068)  # doctest: +SKIP

=====================  =================================  =================================
                       ``KEYCLOAK`` (the default)         ``RFC9068`` (generic)
=====================  =================================  =================================
service account        ``client_id`` == ``azp``           ``sub`` == ``client_id`` (§2.2)
client id claim        ``azp``, then ``client_id``        ``client_id``
roles                  ``realm_access.roles`` →           ``roles`` / ``groups`` /
                       ``realm:<r>``;                     ``entitlements`` →
                       ``resource_access.<c>.roles`` →    ``roles:<r>``, ``groups:<g>``,
                       ``<c>:<r>``                        ``entitlements:<e>`` (§2.2.3.1)
scopes                 ``scope`` (or ``scp``)             ``scope`` (or ``scp``)
``typ`` claim          must be ``Bearer`` (ID/Refresh     not checked (there is none)
                       refused; ``DPoP`` on the DPoP
                       scheme)
header ``typ``         absent, ``JWT`` or ``at+jwt``      ``at+jwt`` / ``application/at+jwt``
                                                          required (§2.1, §4)
discovery              ``<issuer>/.well-known/openid-configuration``; Keycloak's issuer is
                       ``<base>[/auth]/realms/<realm>`` (``svcauth._discovery``)
=====================  =================================  =================================

No client name is a default anywhere: which clients are admitted is the caller's to say
(``allowed_clients``).

Where a provider quirk goes
---------------------------
A new profile is one ``ProviderProfile(...)`` in ``_profiles.py`` (rules as small pure
functions beside it) and a test that feeds it that provider's real tokens. Known quirks,
from the vendors' documentation and **not yet tested here** (hence no profile yet):

* **Auth0**: client-credentials tokens have ``sub`` = ``<client_id>@clients``, ``azp`` the
  client id, ``gty`` = ``client-credentials``; API permissions in ``permissions`` (RBAC
  on); header ``typ`` ``at+jwt`` only with the RFC 9068 token profile selected.
* **Microsoft Entra ID**: app-only tokens carry ``idtyp`` = ``app`` (optional claim) and
  ``oid`` == ``sub``; the client is ``azp`` (v2.0) or ``appid`` (v1.0); application roles
  in ``roles`` (plain names), delegated scopes in ``scp``; the issuer differs between v1.0
  and v2.0 tokens (``sts.windows.net`` vs ``login.microsoftonline.com/<tenant>/v2.0``).
* **Okta**: the client is ``cid``; client-credentials tokens have ``sub`` == ``cid``;
  scopes in ``scp`` (a list); custom authorization servers only (the org server's access
  tokens are not for third-party resource servers).
"""

from __future__ import annotations

from .._errors import ConfigurationError
from ._profile import FROM_PROFILE, ClaimsRule, ProviderProfile, oidc_discovery_url
from ._profiles import KEYCLOAK, RFC9068, keycloak_service_account, rfc9068_service_account
from ._roles import keycloak_roles, rfc9068_roles, scopes_of

__all__ = [
    "FROM_PROFILE",
    "KEYCLOAK",
    "PROFILES",
    "RFC9068",
    "ClaimsRule",
    "ProviderProfile",
    "keycloak_roles",
    "keycloak_service_account",
    "oidc_discovery_url",
    "profile_named",
    "rfc9068_roles",
    "rfc9068_service_account",
    "scopes_of",
]

PROFILES: dict[str, ProviderProfile] = {p.name: p for p in (KEYCLOAK, RFC9068)}
"""The shipped profiles by name (``"keycloak"``, ``"rfc9068"``)."""


def profile_named(name: str | ProviderProfile) -> ProviderProfile:
    """The profile called ``name`` (or ``name`` itself when it is one)."""
    if isinstance(name, ProviderProfile):
        return name
    if name not in PROFILES:
        raise ConfigurationError(f"provider profile: expected one of {sorted(PROFILES)}, "
                                 f"found {name!r}")
    return PROFILES[name]
