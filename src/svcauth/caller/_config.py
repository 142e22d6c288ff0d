"""Caller configuration: explicit arguments or the environment (the seed's variable names)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import httpx

from .._discovery import (
    adiscover,
    adiscover_keycloak,
    discover,
    discover_keycloak,
    keycloak_issuer,
    normalize_auth_path,
)
from .._errors import ConfigurationError
from .._seed_env import auth_path_from_env, warn_once
from ._client_auth import ClientAuth, ClientSecretBasic, PrivateKeyJWT
from ._dpop import DPoPKey
from ._policy import DEFAULT_REFRESH_BACKOFF, Backoff, RefreshPolicy

KEYCLOAK_TOKEN_PATH = "/protocol/openid-connect/token"


def _scopes(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(value)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Where and how a service obtains its client-credentials token.

    Name the endpoint one of three ways: ``token_endpoint``; ``issuer`` (OIDC discovery);
    or ``keycloak_url`` + ``realm`` (+ ``auth_path``).

    >>> ClientConfig(client_id="shop-api", auth=ClientSecretBasic(secret_file="/run/s"),
    ...              keycloak_url="http://127.0.0.1:8080", realm="techstore")  # doctest: +SKIP
    """

    client_id: str
    """The OAuth client id. Required."""
    auth: ClientAuth
    """Client authentication: ClientSecretBasic (usual), ClientSecretPost or PrivateKeyJWT."""
    token_endpoint: str | None = None
    """The token endpoint URL; when None it is found from ``issuer`` or the Keycloak fields."""
    issuer: str | None = None
    """An OpenID issuer URL, resolved through ``/.well-known/openid-configuration``."""
    keycloak_url: str | None = None
    """Keycloak base URL (``http://127.0.0.1:8080``), used with ``realm``."""
    realm: str | None = None
    """Keycloak realm name."""
    auth_path: str = ""
    """Keycloak path prefix: ``""`` (17+), ``"/auth"`` (legacy) or ``"auto"`` (discover). ``""``."""
    scope: tuple[str, ...] = ()
    """Scopes to ask for (sent space-joined); a string is split on spaces. None asked by default."""
    audience: str | None = None
    """An ``audience`` form field (some providers use it). Not sent by default."""
    resource: tuple[str, ...] = ()
    """RFC 8707 resource indicators, one ``resource`` field each. None by default."""
    timeout: float = 5.0
    """Per-attempt timeout in seconds. 5 s."""
    deadline: float = 10.0
    """Overall time for one fetch including retries, in seconds. 10 s."""
    margin: float = 60.0
    """A token is not served within this many seconds of expiry; capped at half its life and
    so it never cuts into the refresh window (see :class:`RefreshPolicy`). 60 s."""
    refresh_ratio: float = 0.8
    """Share of the lifetime at which the background-refresh window opens. 0.8."""
    jitter: float = 0.05
    """Width of the refresh window as a share of the lifetime (0.80 to 0.85). 0.05."""
    failure_ttl: float = 5.0
    """Seconds a permanent failure (invalid_client...) is remembered, not re-asked. 5 s."""
    unauthorized_cooldown: float = 30.0
    """A resource server's 401 causes at most one token refresh per this many seconds. 30 s."""
    unauthorized_fresh: float = 5.0
    """A 401 refusing a token requested less than this many seconds ago never refreshes. 5 s."""
    refresh_backoff: Backoff = DEFAULT_REFRESH_BACKOFF
    """Waits between the attempts of a failing background refresh (see
    :attr:`RefreshPolicy.refresh_backoff`). Base 1 s, cap 30 s."""
    extra_form: tuple[tuple[str, str], ...] = field(default=())
    """Further form fields sent with every token request. None by default."""
    dpop: DPoPKey | None = field(default=None, compare=False)
    """The DPoP key (RFC 9449): token requests carry a proof and tokens come back bound to
    it (``token_type: DPoP``); requests then send ``Authorization: DPoP`` with a proof.
    ``None`` (default): Bearer tokens. From the environment: ``SVCAUTH_DPOP_KEY_FILE`` (a PEM
    or JWK file) or ``SVCAUTH_DPOP=1`` (a fresh ES256 key at start)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", _scopes(self.scope))
        object.__setattr__(self, "resource", _scopes(self.resource))
        if not self.client_id:
            raise ConfigurationError("client_id: expected a client id, found none",
                                     code="config_missing")
        if not isinstance(self.auth, ClientAuth):
            raise ConfigurationError(
                f"auth: expected ClientSecretBasic, ClientSecretPost or PrivateKeyJWT, found "
                f"{type(self.auth).__name__}", code="config_missing")
        if not (self.token_endpoint or self.issuer or (self.keycloak_url and self.realm)):
            raise ConfigurationError(
                "token endpoint: expected token_endpoint, issuer, or keycloak_url with realm",
                code="config_missing")
        for name in ("timeout", "deadline"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(
                    f"{name}: expected a positive number of seconds, found {value!r}")
        self.refresh_policy()  # refuses a margin, ratio or jitter it cannot work with

    def refresh_policy(self) -> RefreshPolicy:
        """The refresh timing these settings describe."""
        return RefreshPolicy(margin=self.margin, refresh_ratio=self.refresh_ratio,
                             jitter=self.jitter, failure_ttl=self.failure_ttl,
                             unauthorized_cooldown=self.unauthorized_cooldown,
                             unauthorized_fresh=self.unauthorized_fresh,
                             refresh_backoff=self.refresh_backoff)

    # -- endpoint resolution (discovery is I/O: done once, by the source or from_env) --

    def resolved(self, client: httpx.Client | None = None) -> ClientConfig:
        """This config with ``token_endpoint`` set, discovering it when needed (blocking)."""
        if self.token_endpoint:
            return self
        if self.issuer:
            return replace(self, token_endpoint=discover(self.issuer, client=client).token_endpoint)
        assert self.keycloak_url and self.realm
        path = normalize_auth_path(self.auth_path)
        if path is not None:
            issuer = keycloak_issuer(self.keycloak_url, self.realm, path)
            return replace(self, issuer=issuer, token_endpoint=issuer + KEYCLOAK_TOKEN_PATH)
        meta = discover_keycloak(self.keycloak_url, self.realm, None, client=client)
        return replace(self, issuer=meta.issuer, token_endpoint=meta.token_endpoint)

    async def aresolved(self, client: httpx.AsyncClient | None = None) -> ClientConfig:
        """Async twin of :meth:`resolved`."""
        if self.token_endpoint:
            return self
        if self.issuer:
            meta = await adiscover(self.issuer, client=client)
            return replace(self, token_endpoint=meta.token_endpoint)
        path = normalize_auth_path(self.auth_path)
        if path is not None:
            return self.resolved()
        assert self.keycloak_url and self.realm
        meta = await adiscover_keycloak(self.keycloak_url, self.realm, None, client=client)
        return replace(self, issuer=meta.issuer, token_endpoint=meta.token_endpoint)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ClientConfig:
        """Configuration from ``KEYCLOAK_*`` / ``OIDC_ISSUER`` variables.

        ``KEYCLOAK_CLIENT_ID`` is required; the credential is ``KEYCLOAK_CLIENT_KEY_FILE``
        (private_key_jwt), else ``KEYCLOAK_CLIENT_SECRET_FILE``, else ``KEYCLOAK_CLIENT_SECRET``;
        the endpoint ``OIDC_ISSUER``, else ``KEYCLOAK_URL`` + ``KEYCLOAK_REALM`` (+
        ``KEYCLOAK_AUTH_PATH``: ``/auth``, ``/`` or empty for none, or ``auto``; unset or
        empty logs a warning once, as the seed's code reads those as ``/auth``; see
        docs/devidp.md). A missing variable raises
        :class:`~svcauth.ConfigurationError` naming it. ``overrides`` replace fields.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        client_id = overrides.pop("client_id", None) or get("KEYCLOAK_CLIENT_ID")
        if not client_id:
            raise ConfigurationError("KEYCLOAK_CLIENT_ID is not set: expected the client id",
                                     code="config_missing")
        auth = overrides.pop("auth", None)
        if auth is None:
            if key_file := get("KEYCLOAK_CLIENT_KEY_FILE"):
                auth = PrivateKeyJWT(key_file)
            elif secret_file := get("KEYCLOAK_CLIENT_SECRET_FILE"):
                auth = ClientSecretBasic(secret_file=secret_file)
            elif secret := get("KEYCLOAK_CLIENT_SECRET"):
                auth = ClientSecretBasic(secret)
            else:
                raise ConfigurationError(
                    "KEYCLOAK_CLIENT_SECRET is not set: expected KEYCLOAK_CLIENT_SECRET, "
                    "KEYCLOAK_CLIENT_SECRET_FILE or KEYCLOAK_CLIENT_KEY_FILE",
                    code="config_missing")
        fields: dict[str, object] = {"client_id": client_id, "auth": auth}
        if dpop_file := get("SVCAUTH_DPOP_KEY_FILE"):
            fields["dpop"] = DPoPKey.from_file(dpop_file)
        elif (get("SVCAUTH_DPOP") or "").lower() in ("1", "true", "yes"):
            fields["dpop"] = DPoPKey.generate()
        if not any(k in overrides for k in ("token_endpoint", "issuer", "keycloak_url")):
            if issuer := get("OIDC_ISSUER"):
                fields["issuer"] = issuer
            else:
                url, realm = get("KEYCLOAK_URL"), get("KEYCLOAK_REALM")
                for name, value in (("KEYCLOAK_URL", url), ("KEYCLOAK_REALM", realm)):
                    if not value:
                        raise ConfigurationError(
                            f"{name} is not set: expected it (or OIDC_ISSUER)", code="config_missing")
                auth_path, differs = auth_path_from_env(env)
                warn_once(differs)  # the seed's code reads unset/empty as /auth
                fields.update(keycloak_url=url, realm=realm, auth_path=auth_path)
        fields.update(overrides)
        return cls(**fields)  # type: ignore[arg-type]
