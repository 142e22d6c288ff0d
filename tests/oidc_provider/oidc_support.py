"""What the oidc-provider tests share: the provider's resources and clients, and
:class:`OidcProvider`, the running provider as the session fixture yields it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "oidc-provider"
NOTIFICATION_RESOURCE = "urn:svcauth:notification-service"
SHOP_RESOURCE = "urn:svcauth:shop-api"
RESOURCES = {
    NOTIFICATION_RESOURCE: {"audience": "notification-service",
                            "scope": "notifications:send notifications:read"},
    SHOP_RESOURCE: {"audience": "shop-api", "scope": "webhooks:payment"},
}
CLIENT_METHODS = {"shop-api": "client_secret_basic", "reporting-job": "client_secret_post"}


@dataclass(frozen=True)
class OidcProvider:
    """A running oidc-provider: its issuer and the clients' secrets (never in ``repr``)."""

    issuer: str
    """``http://127.0.0.1:PORT`` (discovery at ``/.well-known/openid-configuration``)."""
    secrets: dict[str, str] = field(repr=False)
    """client id -> secret, generated per session."""
    notification_resource: str = NOTIFICATION_RESOURCE
    """Resource indicator of notification-service (``aud`` ``notification-service``); the
    default resource of a request that names none."""
    shop_resource: str = SHOP_RESOURCE
    """Resource indicator of shop-api (``aud`` ``shop-api``)."""
