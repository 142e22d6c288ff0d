"""The storefront's configuration from the environment (the seed's variables and two more)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from mockmart.config import MockMartConfig

__all__ = ["StorefrontSettings"]


@dataclass(frozen=True)
class StorefrontSettings:
    """What the storefront process needs; build it with :meth:`from_env`."""

    provider: MockMartConfig
    """Provider URLs, realm, and this client's id and secret (``KEYCLOAK_*``)."""
    shop_url: str = "http://127.0.0.1:8081"
    """shop-api's base URL (``SHOP_API_URL``)."""
    public_url: str = ""
    """The storefront's own base URL as the browser sees it (``STOREFRONT_PUBLIC_URL``);
    empty: taken from each request (its callback is under it)."""
    session_idle: float = 1800.0
    """Seconds a session lives without a request (``STOREFRONT_SESSION_IDLE``)."""
    login_timeout: float = 600.0
    """Seconds a started login may take before its state is forgotten."""
    refresh_margin: float = 10.0
    """Renew the access token when fewer than this many seconds are left."""
    secure_cookies: bool = False
    """``Secure`` on the session cookie: on when ``public_url`` is https."""
    admin_role: str = "admin"
    """The realm role that opens the admin pages."""
    client_secret: str = field(default="", repr=False)
    """The storefront's client secret (from ``KEYCLOAK_CLIENT_SECRET``)."""

    @property
    def client_id(self) -> str:
        """The storefront's client id."""
        return self.provider.client_id

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StorefrontSettings:
        """Read ``KEYCLOAK_*`` (client ``storefront`` unless set), ``SHOP_API_URL``,
        ``STOREFRONT_PUBLIC_URL`` and ``STOREFRONT_SESSION_IDLE``."""
        source = dict(os.environ if env is None else env)
        source.setdefault("KEYCLOAK_CLIENT_ID", "storefront")
        provider = MockMartConfig.from_env(source)
        public = source.get("STOREFRONT_PUBLIC_URL", "").rstrip("/")
        return cls(provider=provider,
                   shop_url=source.get("SHOP_API_URL", cls.shop_url).rstrip("/"),
                   public_url=public,
                   session_idle=float(source.get("STOREFRONT_SESSION_IDLE", cls.session_idle)),
                   secure_cookies=public.startswith("https:"),
                   client_secret=provider.client_secret or "")
