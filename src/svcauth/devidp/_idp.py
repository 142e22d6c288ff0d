"""``DevIdP``: the embedded development identity provider as an object you start and stop."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .._errors import ConfigurationError
from ._issuer import TokenIssuer
from ._keys import KeyRing
from ._realm import Realm, load_realm
from ._server import Router, _Server, serve
from ._stats import ENDPOINTS, Fault, Faults, Stats
from ._tokens import access_token_claims, token_scope

log = logging.getLogger("svcauth.devidp")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _normalise_auth_path(auth_path: str) -> str:
    path = auth_path.strip()
    if path in ("", "/"):
        return ""
    return "/" + path.strip("/")


class DevIdP:
    """A Keycloak-compatible identity provider for development and tests.

    Serves one realm's discovery, token, certs and introspection endpoints (and
    ``/devidp/stats``) on a loopback address in a background thread::

        with DevIdP("deploy/keycloak/techstore-realm.json",
                    env=load_env_file("deploy/dev.env")) as idp:
            httpx.post(idp.token_endpoint, data={...})

    ``port=0`` picks a free port; after ``stop()`` a ``start()`` binds the same port
    again with the same keys. ``hostname`` pins the issuer's base URL (Keycloak's
    ``--hostname``); without it ``iss`` follows each request's Host header, as Keycloak's
    ``start-dev`` does. ``clock`` is the time used for tokens and assertion checks.
    """

    def __init__(
        self,
        realm: str | Path | Realm,
        *,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        auth_path: str = "",
        clock: Callable[[], float] = time.time,
        insecure_bind_any: bool = False,
        hostname: str | None = None,
    ) -> None:
        if not _is_loopback(host) and not insecure_bind_any:
            raise ConfigurationError(
                f"devidp host: expected a loopback address (127.0.0.1, ::1, localhost), "
                f"found {host!r}; it is a development tool with published dev secrets. "
                f"Pass insecure_bind_any=True (--insecure-bind-any) to bind it anyway",
                code="config_invalid")
        self.realm = realm if isinstance(realm, Realm) else load_realm(realm, env)
        self._host = host
        self._port = port
        self._auth_path = _normalise_auth_path(auth_path)
        self._insecure = insecure_bind_any and not _is_loopback(host)
        if self._insecure:
            log.warning("devidp will bind non-loopback %s (insecure_bind_any): anyone who "
                        "can reach it gets tokens for the dev secrets", host)
        self._keys = KeyRing(self.realm.name)
        self._issuer = TokenIssuer(self.realm, self._keys)
        self._stats = Stats()
        self._faults = Faults()
        self._wake = threading.Event()
        self._hostname = hostname.rstrip("/") if hostname else None
        self._router = Router(issuer=self._issuer, auth_path=self._auth_path,
                              fixed_base=self._hostname, default_base="", clock=clock,
                              stats=self._stats, faults=self._faults, wake=self._wake)
        self._clock = clock
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> DevIdP:
        """Bind and serve in a background thread; a no-op when already running."""
        with self._lock:
            if self._server is not None:
                return self
            self._wake.clear()
            try:
                server, thread = serve((self._host, self._port), self._router)
            except OSError as exc:
                raise ConfigurationError(
                    f"devidp cannot bind {self._host}:{self._port}: {exc.strerror}",
                    code="config_invalid") from exc
            self._server, self._thread = server, thread
            self._port = int(server.server_address[1])
            self._router.default_base = self.base_url
            if self._insecure:
                log.warning("devidp bound to non-loopback %s (--insecure-bind-any): anyone "
                            "who can reach it gets tokens for the dev secrets", self._host)
            log.info("devidp serving realm %s at %s", self.realm.name, self.issuer)
            return self

    def stop(self) -> None:
        """Stop serving and drop open connections; keys, counters and port are kept."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        self._wake.set()
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        """True while serving."""
        return self._server is not None

    def __enter__(self) -> DevIdP:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- URLs --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (after the first start when created with ``port=0``)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>`` (IPv6 hosts in brackets), without the auth path."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def issuer(self) -> str:
        """The issuer for requests to ``base_url``: ``<base><auth_path>/realms/<realm>``."""
        return f"{self._hostname or self.base_url}{self._auth_path}/realms/{self.realm.name}"

    @property
    def token_endpoint(self) -> str:
        """The token endpoint URL."""
        return f"{self._endpoint_base}/protocol/openid-connect/token"

    @property
    def jwks_uri(self) -> str:
        """The JWKS (certs) URL."""
        return f"{self._endpoint_base}/protocol/openid-connect/certs"

    @property
    def introspection_endpoint(self) -> str:
        """The RFC 7662 introspection URL."""
        return f"{self._endpoint_base}/protocol/openid-connect/token/introspect"

    @property
    def discovery_url(self) -> str:
        """The ``/.well-known/openid-configuration`` URL."""
        return f"{self._endpoint_base}/.well-known/openid-configuration"

    @property
    def _endpoint_base(self) -> str:
        return f"{self.base_url}{self._auth_path}/realms/{self.realm.name}"

    # -- keys --------------------------------------------------------------------------
    @property
    def active_kid(self) -> str:
        """The kid that signs new tokens."""
        return self._keys.active_kid

    def jwks(self) -> dict[str, Any]:
        """The public JWKS, as the certs endpoint serves it."""
        return self._keys.jwks()

    def rotate_keys(self) -> str:
        """Make a new signing key active; the previous one stays published. Returns its kid."""
        kid = self._keys.rotate()
        log.info("devidp rotated signing key: new kid %s", kid)
        return kid

    def retire_key(self, kid: str) -> None:
        """Unpublish a passive signing key (``ValueError`` for the active one)."""
        self._keys.retire(kid)
        log.info("devidp retired signing key %s", kid)

    # -- counters and faults -----------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters: ``token_requests`` per client and grant, ``jwks_fetches``,
        ``discovery_fetches``, ``introspections``, ``errors`` per code, ``faults_served``."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero every counter."""
        self._stats.reset()

    def set_fault(self, endpoint: str, *, status: int | None = None, delay: float = 0.0,
                  retry_after: int | None = None, times: int | None = None) -> None:
        """Make ``endpoint`` (``token``, ``certs`` or ``discovery``) misbehave.

        It waits ``delay`` seconds, then answers ``status`` (with ``Retry-After`` when
        given) instead of the real answer, for the next ``times`` requests (None: until
        :meth:`clear_faults`). ``status=None`` with a delay only slows it down.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"fault endpoint: expected one of {ENDPOINTS}, found {endpoint!r}")
        self._faults.set(endpoint, Fault(status=status, delay=delay, retry_after=retry_after),
                         times)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    # -- minting -----------------------------------------------------------------------
    def mint_token(self, client_id: str, *, lifetime: int | None = None,
                   now: float | None = None, extra_claims: Mapping[str, Any] | None = None,
                   kid: str | None = None, client_address: str = "127.0.0.1",
                   user: str | None = None) -> str:
        """Sign an access token exactly as the token endpoint would.

        For tests and demos: ``now`` in the past or a small ``lifetime`` gives an expired
        token, ``extra_claims`` overrides claims, ``kid`` picks a published signing key.
        Without ``user`` it is ``client_id``'s service-account token (client credentials);
        with ``user`` (a username) the token of that user signed in at ``client_id``.
        Raises ``ConfigurationError`` for an unknown client or user, or a client without a
        service account. :func:`svcauth.testing` builds on :meth:`token_claims` and
        :meth:`sign_claims` to remove claims too.
        """
        claims = self.token_claims(client_id, lifetime=lifetime, now=now,
                                   client_address=client_address, user=user)
        claims.update(extra_claims or {})
        return self.sign_claims(claims, kid=kid)

    def token_claims(self, client_id: str, *, lifetime: int | None = None,
                     now: float | None = None, client_address: str = "127.0.0.1",
                     user: str | None = None) -> dict[str, Any]:
        """The claims :meth:`mint_token` would sign (a new ``jti`` each call), unsigned."""
        client = self.realm.clients.get(client_id)
        if client is None:
            raise ConfigurationError(
                f"mint_token: expected a client of realm {self.realm.name!r} (one of "
                f"{sorted(self.realm.clients)}), found {client_id!r}", code="config_invalid")
        at = self._clock() if now is None else now
        if user is None:
            grant = self._issuer.service_grant(client, issuer=self.issuer, now=at,
                                               scope=token_scope(""),
                                               client_address=client_address)
            if grant is None:
                raise ConfigurationError(
                    f"mint_token: expected a client with a service account, found "
                    f"{client_id!r}", code="config_invalid")
        else:
            person = self.realm.users.get(user.lower())
            if person is None or person.service_account_client is not None:
                raise ConfigurationError(
                    f"mint_token: expected a user of realm {self.realm.name!r}, found "
                    f"{user!r}", code="config_invalid")
            grant = self._issuer.user_grant(client, person, issuer=self.issuer, now=at,
                                            scope=token_scope(""))
        life = lifetime if lifetime is not None else client.token_lifespan(
            self.realm.access_token_lifespan)
        return access_token_claims(grant, lifetime=life)

    def sign_claims(self, claims: Mapping[str, Any], *, kid: str | None = None) -> str:
        """Sign exactly ``claims`` (RS256, the active key or the published ``kid``)."""
        try:
            return self._keys.sign(dict(claims), kid=kid)
        except KeyError:
            raise ConfigurationError(f"sign_claims: expected a published signing kid, found "
                                     f"{kid!r}", code="config_invalid") from None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"DevIdP(realm={self.realm.name!r}, issuer={self.issuer!r}, {state})"
