"""Starting and stopping the whole MockMart system: what ``mockmart up``, ``mockmart demo``
and the tests share.

The identity provider (the embedded DevIdP, in this process) comes first, then the SMTP
sink, notification-service and shop-api (its dispatcher inside), each a child process on a
socket bound here, each waited for until healthy. Every child gets its configuration through
the seed's environment variables, its own client id and secret among them.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from mockmart.config import REALM_FILE, client_secret_variable, dev_env, dev_key_file
from mockmart.registry import SERVICES
from mockmart.system.code_login import login_tokens
from mockmart.system.processes import ServiceProcess, wait_http, wait_smtp
from mockmart.system.smtp_sink import MailboxCount, count_mailbox
from mockmart.tracing import SPAN_FILE_VAR
from svcauth.devidp import DevIdP

__all__ = ["Stack", "StackOptions", "short_lifespan_realm"]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class KeycloakIdP:
    """A real Keycloak (``svcauth.keycloak.LocalKeycloak``, start-dev, realm imported) behind
    the members the stack uses. It has no request counters (``stats()`` is None) and cannot
    mint tokens: the demo counts token requests at the callers instead."""

    def __init__(self, realm_file: Path, env: Mapping[str, str], port: int,
                 progress: Progress, auth_path: str = "", tracing_endpoint: str = "") -> None:
        from svcauth.keycloak import KeycloakConfig, LocalKeycloak

        self._kc = LocalKeycloak(KeycloakConfig(port=port, realm_files=(realm_file,),
                                                env=dict(env), auth_path=auth_path,
                                                tracing_endpoint=tracing_endpoint),
                                 progress=progress)
        self.realm_name = "techstore"
        """The realm (the realm file's)."""
        self._started = False

    def start(self) -> KeycloakIdP:
        """Fetch (first time, cached after), start and wait until ready."""
        self.realm_name = self._kc.start().realm
        self._started = True
        return self

    def stop(self) -> None:
        """Stop Keycloak and remove its instance home."""
        self._kc.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self._kc.endpoints.base_url

    @property
    def issuer(self) -> str:
        """The realm's issuer."""
        return self._kc.endpoints.issuer

    @property
    def token_endpoint(self) -> str:
        """The realm's token endpoint."""
        return self._kc.endpoints.token_endpoint

    def stats(self) -> dict[str, Any] | None:
        """Keycloak keeps no per-client counters here: None."""
        return None


def short_lifespan_realm(source: Path, target: Path, *, seconds: int,
                         clients: tuple[str, ...] | None = None) -> Path:
    """Write a copy of the realm file whose access tokens live ``seconds``: for ``clients``
    only (their ``access.token.lifespan`` attribute), or realm-wide when None."""
    realm = json.loads(source.read_text(encoding="utf-8"))
    if clients is None:
        realm["accessTokenLifespan"] = seconds
    else:
        for client in realm["clients"]:
            if client["clientId"] in clients:
                client.setdefault("attributes", {})["access.token.lifespan"] = str(seconds)
    target.write_text(json.dumps(realm, indent=2), encoding="utf-8")
    return target


@dataclass
class StackOptions:
    """How to run the system; every port 0 means "any free port"."""

    run_dir: Path
    """Where databases, logs and ``mail/`` go (created; see ``fresh``)."""
    realm_file: Path = REALM_FILE
    """The realm the embedded identity provider serves."""
    env: Mapping[str, str] = field(default_factory=dev_env)
    """Values for the realm's placeholders and the services' secrets (deploy/dev.env)."""
    idp_port: int = 0
    """Identity provider port."""
    smtp_port: int = 0
    """SMTP sink port."""
    notification_port: int = 0
    """notification-service port."""
    shop_port: int = 0
    """shop-api port (the first replica's; further replicas take free ports)."""
    inventory_port: int = 0
    """inventory-service port."""
    payment_port: int = 0
    """payment-service port."""
    demo: bool = False
    """Demo mode (``MOCKMART_DEMO=1`` in every service): the admin's failure switches exist
    (``mockmart up`` and ``demo`` turn it on; tests ask for it)."""
    shop_replicas: int = 1
    """How many shop-api processes (each with its dispatcher) share the database."""
    database_url: str | None = None
    """None: one SQLite file per service under run_dir; else shared (PostgreSQL)."""
    retry_max_delay: float = 5.0
    """Dispatcher backoff cap (seconds)."""
    fresh: bool = True
    """Remove databases, mail and logs a previous run left in ``run_dir`` first."""
    idp: str = "dev"
    """``dev`` (the embedded DevIdP, in this process) or ``keycloak`` (a real local one)."""
    broker: bool = False
    """Order events through a local RabbitMQ node (outbox relay + order-events worker)."""
    delivery_limit: int = 5
    """With ``broker``: deliveries of a poison message before it is dead-lettered."""
    auth_path: str = ""
    """``/auth`` to serve and use Keycloak's legacy path prefix (< 17), "" for none."""
    storefront: bool = True
    """Start the storefront (the web UI, a BFF: docs/storefront.md) after shop-api."""
    storefront_port: int = 0
    """Storefront port."""
    otlp_endpoint: str = ""
    """OTLP/HTTP base URL every service (and a real Keycloak) sends its spans to; empty: none
    (span files only). ``mockmart up --otel`` points it at the relay in front of Zipkin."""


class Stack:
    """The running system; a context manager that stops everything on exit."""

    def __init__(self, options: StackOptions, progress: Progress = _quiet) -> None:
        self.options = options
        self.run_dir = options.run_dir
        self.mail_dir = options.run_dir / "mail"
        self.idp: Any
        """The identity provider: a ``DevIdP`` or a :class:`KeycloakIdP`."""
        if options.idp == "keycloak":
            self.idp = KeycloakIdP(options.realm_file, options.env, options.idp_port, progress,
                                   auth_path=options.auth_path,
                                   tracing_endpoint=options.otlp_endpoint)
        else:
            self.idp = DevIdP(options.realm_file, env=dict(options.env), port=options.idp_port,
                              auth_path=options.auth_path)
        self.smtp: ServiceProcess | None = None
        self.notification: ServiceProcess | None = None
        self.backends: dict[str, ServiceProcess] = {}
        """inventory-service and payment-service (see :mod:`mockmart.registry`), by name."""
        self.shops: list[ServiceProcess] = []
        self.storefront: ServiceProcess | None = None
        """The storefront process (``options.storefront``)."""
        self.broker: Any = None
        """With ``options.broker``: the :class:`mockmart.system.broker_part.BrokerPart`."""
        if options.broker:
            from mockmart.system.broker_part import BrokerPart

            self.broker = BrokerPart(self, options.delivery_limit)

    # -- configuration handed to the children ---------------------------------------------

    def _database(self, service: str) -> str:
        if self.options.database_url:
            return self.options.database_url
        return f"sqlite:///{self.run_dir / (service + '.db')}"

    def span_file(self, process: str) -> Path:
        """The JSON-lines span file of one service process (see :mod:`mockmart.tracing`)."""
        return self.run_dir / "spans" / f"{process}.jsonl"

    def service_env(self, client_id: str) -> dict[str, str]:
        """The seed's variables for a MockMart process acting as ``client_id``."""
        assert self.smtp is not None
        env = {
            "KEYCLOAK_URL": self.idp.base_url,
            "KEYCLOAK_PUBLIC_URL": self.idp.base_url,
            "KEYCLOAK_REALM": self.realm_name,
            # "/" = no prefix, read the same by svcauth and the seed's code (no warning).
            "KEYCLOAK_AUTH_PATH": self.options.auth_path or "/",
            "KEYCLOAK_CLIENT_ID": client_id,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "MOCKMART_RETRY_MAX_DELAY": str(self.options.retry_max_delay),
        }
        secret = self.options.env.get(client_secret_variable(client_id))
        if secret:
            env["KEYCLOAK_CLIENT_SECRET"] = secret
        elif (key_file := dev_key_file(client_id)) is not None:  # private_key_jwt clients
            env["KEYCLOAK_CLIENT_KEY_FILE"] = str(key_file)
        if self.notification is not None:
            env["NOTIFICATION_URL"] = self.notification.url
        for name, proc in self.backends.items():
            env[SERVICES[name].url_variable] = proc.url
        if self.options.demo:
            env["MOCKMART_DEMO"] = "1"
        if self.broker is not None and self.broker.node is not None:
            env.update(self.broker.service_env())
        if self.options.otlp_endpoint:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.options.otlp_endpoint
        return env

    @property
    def realm_name(self) -> str:
        """The realm every service uses."""
        if isinstance(self.idp, DevIdP):
            return self.idp.realm.name
        name: str = self.idp.realm_name
        return name

    @property
    def dev(self) -> bool:
        """True on the embedded provider (which can mint tokens and count requests)."""
        return isinstance(self.idp, DevIdP)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, progress: Progress = _quiet) -> Stack:
        """Start everything and wait until each part is healthy (RuntimeError otherwise)."""
        opts = self.options
        if opts.fresh and self.run_dir.exists():
            for name in ("mail", "logs", "spans"):
                shutil.rmtree(self.run_dir / name, ignore_errors=True)
            for db in self.run_dir.glob("*.db*"):
                db.unlink()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        logs = self.run_dir / "logs"
        try:
            progress("identity provider" if self.dev else "Keycloak (tens of seconds)")
            self.idp.start()
            if self.broker is not None:
                progress("RabbitMQ node (boots while the services start)")
                self.broker.start_node()
            progress("SMTP sink")
            self.smtp = ServiceProcess(
                "smtp-sink", ["smtp-sink", "--mail-dir", str(self.mail_dir)], env={},
                log_path=logs / "smtp-sink.log", port=opts.smtp_port).start()
            wait_smtp(self.smtp.port, process=self.smtp)
            progress("notification-service")
            self.notification = ServiceProcess(
                "notification-service", ["serve", "notification-service"],
                env={**self.service_env("notification-service"),
                     "DATABASE_URL": self._database("notification-service"),
                     SPAN_FILE_VAR: str(self.span_file("notification-service"))},
                log_path=logs / "notification-service.log", port=opts.notification_port).start()
            wait_http(self.notification.url + "/healthz", process=self.notification)
            for name, port in (("inventory-service", opts.inventory_port),
                               ("payment-service", opts.payment_port)):
                progress(name)
                self.backends[name] = self._backend(name, port)
            for i in range(opts.shop_replicas):
                progress("shop-api" if opts.shop_replicas == 1 else f"shop-api replica {i + 1}")
                self.add_shop(port=opts.shop_port if i == 0 else 0)
            if opts.storefront:
                progress("storefront")
                self.storefront = ServiceProcess(
                    "storefront", ["serve", "storefront"],
                    env={**self.service_env("storefront"), "SHOP_API_URL": self.shop.url},
                    log_path=logs / "storefront.log", port=opts.storefront_port).start()
                wait_http(self.storefront.url + "/healthz", process=self.storefront)
            if self.broker is not None:
                progress("order-events worker")
                self.broker.start_worker()
        except BaseException:
            self.stop()
            raise
        return self

    def _backend(self, name: str, port: int) -> ServiceProcess:
        proc = ServiceProcess(
            name, ["serve", name],
            env={**self.service_env(name), SPAN_FILE_VAR: str(self.span_file(name))},
            log_path=self.run_dir / "logs" / f"{name}.log", port=port).start()
        wait_http(proc.url + "/healthz", process=proc)
        return proc

    def add_shop(self, *, port: int = 0) -> ServiceProcess:
        """Start one more shop-api replica (with its dispatcher) and wait until healthy."""
        n = len(self.shops) + 1
        shop = ServiceProcess(
            f"shop-api-{n}", ["serve", "shop-api"],
            env={**self.service_env("shop-api"), "DATABASE_URL": self._database("shop-api"),
                 SPAN_FILE_VAR: str(self.span_file(f"shop-api-{n}"))},
            log_path=self.run_dir / "logs" / f"shop-api-{n}.log", port=port).start()
        self.shops.append(shop)
        wait_http(shop.url + "/healthz", process=shop)
        return shop

    def stop(self) -> None:
        """Stop every child (SIGTERM to all, then each waited for, SIGKILL past its 10 s) and
        the identity provider: a stop takes one graceful shutdown, not the sum of them."""
        if self.broker is not None:
            self.broker.stop()
        children = [p for p in (self.storefront, *reversed(self.shops),
                                *reversed(self.backends.values()), self.notification, self.smtp)
                    if p is not None]
        for proc in children:
            proc.terminate()
        for proc in children:
            proc.stop()
        self.idp.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what tests and the demo look at --------------------------------------------------

    @property
    def shop(self) -> ServiceProcess:
        """The first shop-api replica."""
        return self.shops[0]

    def mailbox(self) -> MailboxCount:
        """What the SMTP sink has filed so far."""
        return count_mailbox(self.mail_dir)

    def shop_health(self, index: int = 0) -> dict[str, Any]:
        """shop-api's /healthz document (outbox counts, dispatcher counters)."""
        result: dict[str, Any] = httpx.get(self.shops[index].url + "/healthz", timeout=5).json()
        return result

    def notification_health(self) -> dict[str, Any]:
        """notification-service's /healthz document."""
        assert self.notification is not None
        result: dict[str, Any] = httpx.get(self.notification.url + "/healthz", timeout=5).json()
        return result

    def user_tokens(self, username: str = "alice",
                    password_variable: str = "ALICE_PASSWORD") -> dict[str, Any]:
        """Log a user in as the storefront does (authorization code + PKCE through the
        provider's login form, code exchanged with storefront's secret): the token body.
        No password grant: storefront has direct access grants off."""
        return login_tokens(self.idp.issuer, username, self.options.env[password_variable],
                            client_secret=self.options.env[client_secret_variable("storefront")])

    def user_token(self, username: str = "alice",
                   password_variable: str = "ALICE_PASSWORD") -> str:
        """A user's access token from :meth:`user_tokens`."""
        token: str = self.user_tokens(username, password_variable)["access_token"]
        return token

    def service_health(self, name: str) -> dict[str, Any]:
        """The /healthz document of inventory-service or payment-service."""
        result: dict[str, Any] = httpx.get(self.backends[name].url + "/healthz", timeout=5).json()
        return result

    def service_token(self, client_id: str) -> str:
        """A client-credentials token for ``client_id`` (its dev secret) from the IdP."""
        response = httpx.post(
            self.idp.token_endpoint, timeout=10, data={"grant_type": "client_credentials"},
            auth=(client_id, self.options.env[client_secret_variable(client_id)]))
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token
