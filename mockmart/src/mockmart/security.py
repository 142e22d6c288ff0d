"""Where MockMart meets svcauth: every guard and token source, built from the config.

Only svcauth's public API is used here: ``svcauth.caller`` for the services' own tokens,
``svcauth.httpx.BearerAuth`` to send them, ``svcauth.receiver`` to verify incoming ones and
``svcauth.fastapi.ServiceAuth`` to put a guard on a route.

Audiences: Keycloak's audience-resolve mapper puts a client in ``aud`` when the token holds
one of its roles, so service tokens for notification-service carry it (callers hold its
``notifications:send`` role) and the payment provider's carry ``shop-api``. The realm's
``oidc-audience-mapper`` on storefront (``included.client.audience: shop-api``) puts
``shop-api`` in every storefront user token, so checkout requires audience ``shop-api``
alone and ``UserPolicy(allowed_clients={"storefront"})`` decides on ``azp``. The one on
reporting-job adds ``notification-service``: its token is valid there and refused by the
policy (403 ``Unauthorized service``), not by the audience check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockmart.config import MockMartConfig
from mockmart.services.inventory_service.app import InventoryGuards
from mockmart.services.notification_service.app import NotificationGuards
from mockmart.services.payment_service.app import PaymentGuards
from mockmart.services.shop_api.app import ShopGuards
from svcauth.caller import (
    CachingTokenSource,
    ClientAuth,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    DPoPKey,
    PrivateKeyJWT,
    Token,
    TokenExchanger,
    TokenRequest,
)
from svcauth.fastapi import ServiceAuth
from svcauth.httpx import BearerAuth
from svcauth.receiver import (
    DPoPSettings,
    Guard,
    OnBehalfOfPolicy,
    RemoteKeySet,
    ServicePolicy,
    UserPolicy,
    Verifier,
)

__all__ = [
    "CHECKOUT_AUDIENCE",
    "CountingSource",
    "KeySetCounter",
    "counting_token_source",
    "inventory_guards",
    "notification_guards",
    "payment_guards",
    "service_token_source",
    "shop_guards",
]

CHECKOUT_AUDIENCE = "shop-api"
"""The ``aud`` checkout requires of a storefront user token (see the module docstring)."""


class CountingSource(ClientCredentialsSource):
    """A :class:`ClientCredentialsSource` that counts its token requests (for /healthz and
    the demo's "one token, reused" check, which must hold against any provider)."""

    fetches = 0
    """Token requests made (successful or not)."""

    def fetch(self) -> Token:
        """Count, then fetch."""
        self.fetches += 1
        return super().fetch()

    async def afetch(self) -> Token:
        """Count, then fetch."""
        self.fetches += 1
        return await super().afetch()

    def fetch_with(self, build: Callable[[float], TokenRequest]) -> Token:
        """Count, then fetch another grant (token exchange)."""
        self.fetches += 1
        return super().fetch_with(build)

    async def afetch_with(self, build: Callable[[float], TokenRequest]) -> Token:
        """Count, then fetch another grant (token exchange)."""
        self.fetches += 1
        return await super().afetch_with(build)


def counting_token_source(config: MockMartConfig, client_id: str | None = None,
                          secret: str | None = None, *, dpop: DPoPKey | None = None
                          ) -> tuple[CachingTokenSource, CountingSource]:
    """A cached client-credentials source for this service (or ``client_id``/``secret``) and
    the counting fetcher under it.

    The client authenticates with ``secret`` when given, else with the config's private key
    (``private_key_jwt``, RFC 7523) when it has one, else with the config's secret. The token
    endpoint is built from the config, so nothing is fetched before the first token is
    needed (a service starts even while the identity provider is down).
    """
    auth: ClientAuth
    if secret is None and config.client_key_file:
        auth = PrivateKeyJWT(config.client_key_file)
    else:
        secret = secret if secret is not None else config.client_secret
        if not secret:
            raise ValueError(f"{client_id or config.client_id}: no client credential configured "
                             "(KEYCLOAK_CLIENT_SECRET[_FILE] or KEYCLOAK_CLIENT_KEY_FILE)")
        auth = ClientSecretBasic(secret)
    client = ClientConfig(client_id=client_id or config.client_id, auth=auth,
                          token_endpoint=config.token_endpoint, timeout=3.0, deadline=5.0,
                          dpop=dpop)
    fetcher = CountingSource(client)
    return CachingTokenSource(fetcher), fetcher


def service_token_source(config: MockMartConfig, client_id: str | None = None,
                         secret: str | None = None) -> CachingTokenSource:
    """A cached client-credentials source (see :func:`counting_token_source`)."""
    return counting_token_source(config, client_id, secret)[0]


@dataclass(frozen=True)
class KeySetCounter:
    """Reads a key set's fetch count for /healthz (0 when the key set has none)."""

    key_set: Any

    def __call__(self) -> int:
        return int(getattr(self.key_set, "fetch_count", 0))


def _key_set(config: MockMartConfig) -> Any:
    return RemoteKeySet(config.jwks_uri, issuer=config.issuer)


def _service_auth(config: MockMartConfig, key_set: Any, *, audience: str,
                  clients: frozenset[str] | set[str] | None, roles: set[str]) -> ServiceAuth[Any]:
    verifier = Verifier(issuer=config.issuer, audience=audience, key_set=key_set)
    policy = ServicePolicy(allowed_clients=clients, required_roles=roles)
    return ServiceAuth(Guard(verifier, policy, realm=audience))


def notification_guards(config: MockMartConfig) -> NotificationGuards:
    """notification-service's three guards over one remote key set."""
    keys = _key_set(config)
    send = {"notification-service:notifications:send"}
    return NotificationGuards(
        order=_service_auth(config, keys, audience="notification-service",
                            clients=config.allowed_order_clients, roles=send),
        reminder=_service_auth(config, keys, audience="notification-service",
                               clients={"cart-reminder-job"}, roles=send),
        read=_service_auth(config, keys, audience="notification-service", clients=None,
                           roles={"notification-service:notifications:read"}),
        jwks_fetches=KeySetCounter(keys),
    )


def inventory_guards(config: MockMartConfig) -> InventoryGuards:
    """inventory-service's guards: by role alone, any caller holding it."""
    keys = _key_set(config)
    return InventoryGuards(
        read=_service_auth(config, keys, audience="inventory-service", clients=None,
                           roles={"inventory-service:inventory:read"}),
        reserve=_service_auth(config, keys, audience="inventory-service", clients=None,
                              roles={"inventory-service:inventory:reserve"}),
        jwks_fetches=KeySetCounter(keys))


PAYMENT_ACTORS = frozenset({"shop-api"})
"""The services payment-service lets act for users (``azp`` of an exchanged token): the
on-behalf-of rule needs them named (see docs/mockmart-shop.md); what they may do is the
user's role ``payment-service:payments:charge``."""


def payment_guards(config: MockMartConfig) -> PaymentGuards:
    """payment-service's guard: exchanged user tokens, DPoP required, role payments:charge."""
    keys = _key_set(config)
    guard = Guard(Verifier(issuer=config.issuer, audience="payment-service", key_set=keys),
                  OnBehalfOfPolicy(allowed_clients=PAYMENT_ACTORS,
                                   required_roles={"payment-service:payments:charge"}),
                  realm="payment-service", dpop=DPoPSettings(mode="required"))
    return PaymentGuards(charge=ServiceAuth(guard, description="DPoP-bound access token "
                                                  "exchanged for a user (RFC 8693, RFC 9449)"),
                         jwks_fetches=KeySetCounter(keys))


def shop_guards(config: MockMartConfig) -> ShopGuards:
    """shop-api's guards (checkout and orders: storefront users; product edits and switches:
    storefront users with the realm role ``admin``; webhook: payment-provider), the outgoing
    auth with shop-api's own service token (notification, inventory) and the token exchanger
    (DPoP-bound, for payment-service)."""
    keys = _key_set(config)
    verifier = Verifier(issuer=config.issuer, audience=CHECKOUT_AUDIENCE, key_set=keys)
    checkout = Guard(verifier, UserPolicy(allowed_clients={"storefront"}), realm="shop-api")
    admin = Guard(verifier, UserPolicy(allowed_clients={"storefront"},
                                       required_roles={"realm:admin"}), realm="shop-api")
    source, fetcher = counting_token_source(config)
    # A second source of the same client, with a DPoP key: only for exchanges, so the
    # services that take Bearer tokens never get a DPoP-bound one.
    _, exchange_fetcher = counting_token_source(config, dpop=DPoPKey.generate())
    return ShopGuards(
        checkout=ServiceAuth(checkout, description="storefront user access token"),
        payment=_service_auth(config, keys, audience="shop-api", clients={"payment-provider"},
                              roles={"shop-api:webhooks:payment"}),
        outgoing=BearerAuth(source),
        jwks_fetches=KeySetCounter(keys),
        token_fetches=lambda: fetcher.fetches,
        admin=ServiceAuth(admin, description="storefront user access token, realm role admin"),
        exchanger=TokenExchanger(exchange_fetcher),
        exchange_fetches=lambda: exchange_fetcher.fetches,
    )
