"""MockMart configuration from the seed's environment variables, defaults from deploy/dev.env.

Every service reads the same variables (``KEYCLOAK_URL``, ``KEYCLOAK_PUBLIC_URL``,
``KEYCLOAK_REALM``, ``KEYCLOAK_AUTH_PATH``, ``KEYCLOAK_CLIENT_ID``, ``KEYCLOAK_CLIENT_SECRET``
or ``KEYCLOAK_CLIENT_SECRET_FILE`` (or ``KEYCLOAK_CLIENT_KEY_FILE`` for a ``private_key_jwt``
client, as in ``svcauth.caller.ClientConfig.from_env``), ``NOTIFICATION_URL``,
``DATABASE_URL``, ``SMTP_HOST``, ``SMTP_PORT``); a process learns *which* service it is
from ``KEYCLOAK_CLIENT_ID``. Secrets come only from the environment or a file;
:func:`dev_env` holds the development values of ``deploy/dev.env`` that the orchestrator
(``mockmart up``/``demo``) hands to each child.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from svcauth.devidp import load_env_file

__all__ = [
    "REPO_ROOT",
    "MockMartConfig",
    "client_secret_variable",
    "dev_env",
    "dev_key_file",
]

def _repo_root() -> Path:
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (candidate / "deploy" / "keycloak" / "techstore-realm.json").is_file():
            return candidate
    return Path(__file__).resolve().parents[3]


REPO_ROOT = _repo_root()
"""The directory holding ``deploy/``: the working directory when it has one, else the source
checkout this package lives in."""

DEV_ENV_FILE = REPO_ROOT / "deploy" / "dev.env"
REALM_FILE = REPO_ROOT / "deploy" / "keycloak" / "techstore-realm.json"


def dev_env(path: Path = DEV_ENV_FILE) -> dict[str, str]:
    """The development values of ``deploy/dev.env`` (not secrets: 127.0.0.1 only)."""
    return load_env_file(path)


def client_secret_variable(client_id: str) -> str:
    """The dev.env name of a client's secret: ``shop-api`` -> ``SHOP_API_CLIENT_SECRET``."""
    return client_id.upper().replace("-", "_") + "_CLIENT_SECRET"


def dev_key_file(client_id: str) -> Path | None:
    """The development private key of a ``private_key_jwt`` client
    (``deploy/dev/<client>.key.pem``, e.g. inventory-sync's), None when it has none."""
    path = REPO_ROOT / "deploy" / "dev" / f"{client_id}.key.pem"
    return path if path.is_file() else None


def _strip_slash(url: str) -> str:
    return url.rstrip("/")


@dataclass(frozen=True)
class MockMartConfig:
    """What one MockMart process needs to know; build it with :meth:`from_env`."""

    client_id: str
    """This service's own client id (``KEYCLOAK_CLIENT_ID``): its name and its audience."""
    client_secret: str | None = field(default=None, repr=False)
    """This service's client secret (``KEYCLOAK_CLIENT_SECRET[_FILE]``); None for receivers only."""
    client_key_file: str | None = None
    """PEM or JWK private key for ``private_key_jwt`` (``KEYCLOAK_CLIENT_KEY_FILE``); when set,
    it authenticates this service instead of a secret."""
    keycloak_url: str = "http://127.0.0.1:8080"
    """Where this process reaches the identity provider (token and JWKS requests)."""
    keycloak_public_url: str = "http://127.0.0.1:8080"
    """The identity provider's public base URL: what tokens carry in ``iss``."""
    realm: str = "techstore"
    """The realm (``KEYCLOAK_REALM``)."""
    auth_path: str = ""
    """``/auth`` for Keycloak < 17 style paths, empty otherwise (``KEYCLOAK_AUTH_PATH``)."""
    notification_url: str = "http://127.0.0.1:8082"
    """Base URL of notification-service (``NOTIFICATION_URL``)."""
    database_url: str = "sqlite:///var/mockmart.db"
    """``sqlite:///path`` (default, under ``var/``) or ``postgresql://...`` (``DATABASE_URL``)."""
    smtp_host: str = "127.0.0.1"
    """SMTP server for outgoing e-mail (``SMTP_HOST``)."""
    smtp_port: int = 2525
    """SMTP port (``SMTP_PORT``); the default is the embedded sink of ``mockmart up``."""
    allowed_order_clients: frozenset[str] = frozenset({"shop-api"})
    """Callers allowed on ``/api/notifications/order`` (``MOCKMART_ORDER_CLIENTS``, comma list)."""
    retry_max_delay: float = 5.0
    """Cap of the dispatcher's exponential backoff, seconds (``MOCKMART_RETRY_MAX_DELAY``)."""
    dispatcher_poll: float = 0.2
    """Seconds the dispatcher sleeps when the outbox has nothing due (``MOCKMART_DISPATCH_POLL``)."""
    inventory_url: str = "http://127.0.0.1:8083"
    """Base URL of inventory-service (``INVENTORY_URL``)."""
    payment_url: str = "http://127.0.0.1:8084"
    """Base URL of payment-service (``PAYMENT_URL``)."""
    broker_url: str | None = None
    """``amqp://127.0.0.1:PORT/`` of the RabbitMQ node (``MOCKMART_BROKER_URL``): when set,
    the outbox relay publishes there and the order-events worker delivers (docs/broker.md)."""

    @property
    def _realm_path(self) -> str:
        return f"{self.auth_path}/realms/{self.realm}"

    @property
    def issuer(self) -> str:
        """The expected ``iss`` of every token: public base + auth path + realm."""
        return _strip_slash(self.keycloak_public_url) + self._realm_path

    @property
    def jwks_uri(self) -> str:
        """The JWKS endpoint, reached through the internal URL."""
        return _strip_slash(self.keycloak_url) + self._realm_path + "/protocol/openid-connect/certs"

    @property
    def token_endpoint(self) -> str:
        """The token endpoint, reached through the internal URL."""
        return _strip_slash(self.keycloak_url) + self._realm_path + "/protocol/openid-connect/token"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, defaults: Mapping[str, str] | None = None
    ) -> MockMartConfig:
        """Read the seed's variables from ``env`` (default ``os.environ``).

        ``defaults`` (default: ``deploy/dev.env`` when it exists) fills what ``env`` lacks,
        except the client secret, which must come from ``env`` or ``KEYCLOAK_CLIENT_SECRET_FILE``.
        """
        source = dict(os.environ if env is None else env)
        if defaults is None:
            defaults = dev_env() if DEV_ENV_FILE.exists() else {}

        def get(name: str, fallback: str) -> str:
            value = source.get(name)
            if value is None or value == "":
                value = defaults.get(name) or fallback
            return value

        secret = source.get("KEYCLOAK_CLIENT_SECRET") or None
        secret_file = source.get("KEYCLOAK_CLIENT_SECRET_FILE")
        if secret is None and secret_file:
            secret = Path(secret_file).read_text(encoding="utf-8").strip()
        keycloak_url = get("KEYCLOAK_URL", cls.keycloak_url)
        auth_path = source.get("KEYCLOAK_AUTH_PATH", defaults.get("KEYCLOAK_AUTH_PATH", ""))
        auth_path = "/" + auth_path.strip("/") if auth_path.strip("/") else ""
        clients = get("MOCKMART_ORDER_CLIENTS", "shop-api")
        return cls(
            client_id=get("KEYCLOAK_CLIENT_ID", "shop-api"),
            client_secret=secret,
            client_key_file=source.get("KEYCLOAK_CLIENT_KEY_FILE") or None,
            keycloak_url=keycloak_url,
            keycloak_public_url=get("KEYCLOAK_PUBLIC_URL", keycloak_url),
            realm=get("KEYCLOAK_REALM", cls.realm),
            auth_path=auth_path,
            notification_url=_strip_slash(get("NOTIFICATION_URL", cls.notification_url)),
            database_url=get("DATABASE_URL", cls.database_url),
            smtp_host=get("SMTP_HOST", cls.smtp_host),
            smtp_port=int(get("SMTP_PORT", str(cls.smtp_port))),
            allowed_order_clients=frozenset(c.strip() for c in clients.split(",") if c.strip()),
            retry_max_delay=float(get("MOCKMART_RETRY_MAX_DELAY", str(cls.retry_max_delay))),
            dispatcher_poll=float(get("MOCKMART_DISPATCH_POLL", str(cls.dispatcher_poll))),
            inventory_url=_strip_slash(get("INVENTORY_URL", cls.inventory_url)),
            payment_url=_strip_slash(get("PAYMENT_URL", cls.payment_url)),
            broker_url=source.get("MOCKMART_BROKER_URL") or None,
        )
