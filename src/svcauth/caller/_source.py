"""The token-source interface and the raw client-credentials fetch (no cache)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Hashable
from typing import Protocol, runtime_checkable

import httpx

from .._telemetry._records import token_fetch
from ._config import ClientConfig
from ._dpop import DPoPKey
from ._fetch_flow import FetchFlow, fetch_flow, run_async, run_sync
from ._policy import Backoff
from ._token import Token
from ._token_endpoint import TokenRequest, build_token_request


@runtime_checkable
class TokenSource(Protocol):
    """Hands out a valid access token; safe for concurrent use by threads and tasks."""

    def token(self) -> str:
        """A valid access token (blocking)."""
        ...

    async def atoken(self) -> str:
        """A valid access token (asyncio)."""
        ...

    def invalidate(self, access_token: str) -> bool:
        """A resource server refused ``access_token`` with a 401: forget it when a refresh
        is warranted, and say whether the request should be resent (the no-storm rule of
        :mod:`svcauth.caller._unauthorized`)."""
        ...


@runtime_checkable
class FetchingSource(Protocol):
    """Obtains a new :class:`Token` on every call; what :class:`CachingTokenSource` wraps."""

    def fetch(self) -> Token:
        """A freshly fetched token (blocking)."""
        ...

    async def afetch(self) -> Token:
        """A freshly fetched token (asyncio)."""
        ...


@runtime_checkable
class CacheableSource(FetchingSource, Protocol):
    """What :class:`~svcauth.caller.CachingTokenSource` reads from the source it wraps, and
    nothing else: :class:`ClientCredentialsSource` and the token exchange's fetch are two."""

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock its tokens are stamped with (``Token.expires_at``)."""
        ...

    @property
    def config(self) -> ClientConfig:
        """The client's settings; the cache reads ``client_id`` (telemetry),
        ``refresh_policy()`` (timing, backoff included) and ``timeout`` + ``deadline`` (how
        long a waiter waits for the fetch in flight: their sum plus 5 s)."""
        ...

    @property
    def dpop(self) -> DPoPKey | None:
        """The key its tokens are bound to, ``None`` for Bearer tokens."""
        ...

    def cache_key(self) -> Hashable:
        """What makes two tokens interchangeable: sources with equal keys share a cache entry
        (and one fetch) in a shared :class:`~svcauth.caller.TokenCache`."""
        ...


class ClientCredentialsSource:
    """The raw client-credentials grant against one token endpoint, retries included.

    Every :meth:`fetch` asks the token endpoint; wrap it in :class:`CachingTokenSource`.
    ``clock`` stamps tokens (``Token.expires_at``); ``sleep``/``asleep`` wait between
    retries; ``http``/``ahttp`` are the clients used (created on first use when omitted).
    """

    def __init__(
        self, config: ClientConfig, *, http: httpx.Client | None = None,
        ahttp: httpx.AsyncClient | None = None, clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], object] = asyncio.sleep, backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        """Wall-clock time (seconds since the epoch), for ``Retry-After`` dates and the
        subject-token cap of exchanged tokens."""
        self._wall_clock = wall_clock
        self._http = http
        self._ahttp = ahttp
        self._sleep = sleep
        self._asleep = asleep
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()  # noqa: S311 - timing jitter, not crypto
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        c = self.config
        return (f"ClientCredentialsSource(client_id={c.client_id!r}, "
                f"token_endpoint={c.token_endpoint or c.issuer or c.keycloak_url!r}, auth={c.auth!r})")

    # -- resolution and clients --

    def resolve(self) -> ClientConfig:
        """Discover the token endpoint now if needed (blocking); raises DiscoveryError."""
        if not self.config.token_endpoint:
            resolved = self.config.resolved(self._http)
            with self._lock:
                self.config = resolved
        return self.config

    async def aresolve(self) -> ClientConfig:
        """Async twin of :meth:`resolve`."""
        if not self.config.token_endpoint:
            self.config = await self.config.aresolved(self._ahttp)
        return self.config

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(follow_redirects=False)
            return self._http

    def _aclient(self) -> httpx.AsyncClient:
        with self._lock:
            if self._ahttp is None:
                self._ahttp = httpx.AsyncClient(follow_redirects=False)
            return self._ahttp

    # -- the cache key: what makes two tokens interchangeable --

    def cache_key(self) -> Hashable:
        """(token endpoint, client id, credential fingerprint, scopes, audience, resource)."""
        c = self.config
        key = (c.token_endpoint or c.issuer or f"{c.keycloak_url}#{c.realm}", c.client_id,
               c.auth.fingerprint(), c.scope, c.audience, c.resource)
        # A bound token is good only with its key: the key's thumbprint is part of the key.
        return key if c.dpop is None else (*key, "dpop", c.dpop.jkt)

    @property
    def dpop(self) -> DPoPKey | None:
        """The DPoP key tokens are bound to, ``None`` for Bearer tokens."""
        return self.config.dpop

    # -- the fetch --

    def _build(self, timeout: float) -> TokenRequest:
        c = self.config
        assert c.token_endpoint
        request = build_token_request(
            token_endpoint=c.token_endpoint, client_id=c.client_id, auth=c.auth, scope=c.scope,
            audience=c.audience, resource=c.resource, timeout=timeout,
        )
        if c.extra_form:
            request = TokenRequest(request.url, request.headers,
                                   (*request.form, *c.extra_form), request.timeout)
        if c.dpop is not None:
            proof = c.dpop.proof("POST", c.token_endpoint)
            request = TokenRequest(request.url, {**request.headers, "DPoP": proof},
                                   request.form, request.timeout)
        return request

    def _token_endpoint_nonce(self, nonce: str) -> None:
        dpop = self.config.dpop
        if dpop is not None and self.config.token_endpoint:
            dpop.remember_nonce(self.config.token_endpoint, nonce)

    def flow(self, build: Callable[[float], TokenRequest] | None = None) -> FetchFlow:
        """The retrying fetch as a generator (see :mod:`svcauth.caller._fetch_flow`);
        ``build`` makes each attempt's request (the client-credentials one by default)."""
        c = self.config
        return fetch_flow(
            build or self._build, clock=self.clock, wall_clock=self._wall_clock, timeout=c.timeout,
            deadline=c.deadline, backoff=self._backoff, unit=self._rng.random,
            reload_credential=c.auth.reload,
            dpop_nonce=self._token_endpoint_nonce if c.dpop is not None else None,
        )

    def fetch(self) -> Token:
        """Ask the token endpoint for a new token (blocking, with retries)."""
        config = self.resolve()
        with token_fetch(config.client_id, config.token_endpoint or "") as record:
            return run_sync(self.flow(), self._client(), self._sleep, record.answer)

    async def afetch(self) -> Token:
        """Ask the token endpoint for a new token (asyncio, with retries)."""
        config = await self.aresolve()
        with token_fetch(config.client_id, config.token_endpoint or "") as record:
            return await run_async(self.flow(), self._aclient(), self._asleep, record.answer)

    def fetch_with(self, build: Callable[[float], TokenRequest]) -> Token:
        """Another grant of this client (token exchange) through the same retrying flow,
        clients and telemetry: ``build(timeout)`` makes each attempt's request."""
        config = self.resolve()
        with token_fetch(config.client_id, config.token_endpoint or "") as record:
            return run_sync(self.flow(build), self._client(), self._sleep, record.answer)

    async def afetch_with(self, build: Callable[[float], TokenRequest]) -> Token:
        """Async twin of :meth:`fetch_with`."""
        config = await self.aresolve()
        with token_fetch(config.client_id, config.token_endpoint or "") as record:
            return await run_async(self.flow(build), self._aclient(), self._asleep,
                                   record.answer)

    def close(self) -> None:
        """Close the sync client this source created or was given."""
        if self._http is not None:
            self._http.close()
