"""``RemoteKeySet``: a provider's JWKS, fetched over HTTP by one flow for sync and async callers.

What it guarantees (defaults as in panva/jose and go-oidc):

- **single flight**: one fetch at a time; every thread and task that needs keys meanwhile
  waits for that fetch instead of starting its own;
- **max age** (10 min) with **refresh ahead**: after 80 % of the max age the next caller
  refreshes (everyone else keeps using the current keys meanwhile);
- **cooldown** (30 s) between fetch attempts: an unknown ``kid`` triggers at most one refetch
  per cooldown, otherwise it is refused at once (``key_not_found``), so a flood of made-up
  kids costs the provider one request per cooldown; failed fetches are retried at that pace;
- **stale-if-error** (24 h): while the endpoint fails, keys from the last successful fetch
  keep verifying, with a logged warning; keys change only when a fetch succeeds;
- fetch rules of ``_jwks_fetch``: timeout (5 s), body cap (512 KiB), no redirects, JSON only.

The decision what to do (use a key, fetch, wait, refuse) is one pure-ish method under a lock,
``_plan``; what follows from it is one flow (``_resolve_flow``) that yields I/O steps, run by
the shared drivers of :mod:`svcauth._flow`. The one fetch at a time is a
:class:`~svcauth._singleflight.SingleFlight` with the cooldown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .._discovery import adiscover, discover
from .._errors import ConfigurationError, KeySetUnavailableError
from .._flow import Flow, Wait, run_async, run_sync
from .._singleflight import Flight, SingleFlight
from ._jwks_fetch import jwks_flow, unavailable
from ._keys import KeyEntry, KeyIndex, index_from_jwks
from ._keyset import IndexedKeySet, key_not_found

__all__ = ["RemoteKeySet", "RemoteKeySetConfig"]

log = logging.getLogger("svcauth.receiver")

REFRESH_AHEAD = 0.8
"""Fraction of ``max_age`` after which the next caller refreshes the keys."""

_USE, _FETCH, _WAIT, _NOT_FOUND, _UNAVAILABLE = range(5)
_KEYS = "jwks"  # the one single-flight key of a key set


@dataclass(frozen=True)
class RemoteKeySetConfig:
    """What a :class:`RemoteKeySet` fetches and how often; the defaults live here only."""

    jwks_uri: str
    """Where the keys are published (an http(s) URL)."""
    issuer: str
    """The issuer these keys belong to; only its tokens are verified with them."""
    max_age: float = 600.0
    """Seconds after a fetch before keys must be fetched again (refreshed ahead at 80 %)."""
    cooldown: float = 30.0
    """Least seconds between two fetch attempts (unknown kid, failures)."""
    stale_for: float = 86_400.0
    """Seconds after the last successful fetch that keys still serve while fetches fail."""
    timeout: float = 5.0
    """Deadline of one whole fetch, in seconds."""
    max_bytes: int = 512 * 1024
    """Largest JWKS body read."""

    def __post_init__(self) -> None:
        jwks_uri, issuer = self.jwks_uri, self.issuer
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ConfigurationError(f"RemoteKeySet jwks_uri: expected an http(s) URL, found "
                                     f"{jwks_uri!r}")
        if not issuer:
            raise ConfigurationError("RemoteKeySet issuer: expected the issuer the keys belong "
                                     "to, found none", code="config_missing")
        cooldown, max_age, stale_for = self.cooldown, self.max_age, self.stale_for
        timeout, max_bytes = self.timeout, self.max_bytes
        if not (0 < cooldown <= max_age <= stale_for) or timeout <= 0 or max_bytes < 1024:
            raise ConfigurationError(
                "RemoteKeySet: expected 0 < cooldown <= max_age <= stale_for, timeout > 0 and "
                f"max_bytes >= 1024, found cooldown={cooldown}, max_age={max_age}, "
                f"stale_for={stale_for}, timeout={timeout}, max_bytes={max_bytes}"
            )


_D = RemoteKeySetConfig


class RemoteKeySet(IndexedKeySet):
    """The signing keys published at ``jwks_uri`` for ``issuer``.

    ::

        keys = RemoteKeySet.from_discovery("https://sso.example/realms/techstore")
        verifier = Verifier(issuer=keys.issuer, audience="orders", key_set=keys)

    ``clock`` is a monotonic clock in seconds (inject one in tests). ``http_client`` /
    ``async_http_client`` are used when given (their redirects are still refused); otherwise
    a short-lived client is made per fetch. ``fetch_count`` and ``stats`` count fetches.

    From async code use ``Verifier.averify`` (fetches then run on the event loop); the sync
    ``verify`` fetches with a blocking client. Refresh ahead is done inline by the first
    caller that finds the keys due (no background thread or task), which keeps tests and
    shutdown simple; everyone else goes on with the current keys meanwhile.
    """

    def __init__(
        self,
        jwks_uri: str,
        *,
        issuer: str,
        max_age: float = _D.max_age,
        cooldown: float = _D.cooldown,
        stale_for: float = _D.stale_for,
        timeout: float = _D.timeout,
        max_bytes: int = _D.max_bytes,
        clock: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = RemoteKeySetConfig(jwks_uri, issuer, float(max_age), float(cooldown),
                                         float(stale_for), float(timeout), max_bytes)
        """The frozen configuration (see :class:`RemoteKeySetConfig`)."""
        self.jwks_uri = jwks_uri
        """Where the keys are published."""
        self.issuer = issuer
        """The issuer these keys belong to; only its tokens are verified with them."""
        self.max_age = self.config.max_age
        """Seconds after a fetch before keys must be fetched again."""
        self.cooldown = self.config.cooldown
        """Least seconds between two fetch attempts (unknown kid, failures)."""
        self.stale_for = self.config.stale_for
        """Seconds after the last successful fetch that keys still serve while fetches fail."""
        self.timeout = self.config.timeout
        """Deadline of one fetch, in seconds."""
        self.max_bytes = max_bytes
        """Largest JWKS body read."""
        self.clock = clock
        """Monotonic seconds."""
        self._http = http_client
        self._ahttp = async_http_client
        self._lock = threading.Lock()
        self._index: KeyIndex | None = None
        self._fetched_at = float("-inf")
        self._refresh_at = float("-inf")
        self._flights: SingleFlight[str, bool] = SingleFlight(cooldown=self.cooldown,
                                                               clock=clock)
        self._last_error = "no fetch yet"
        self._stats = {"fetches": 0, "fetch_failures": 0, "unknown_kid_refetches": 0,
                       "key_not_found": 0, "stale_served": 0}

    # -- construction through discovery -------------------------------------------------

    @classmethod
    def from_discovery(
        cls, issuer: str, *, http_client: httpx.Client | None = None, **options: Any
    ) -> RemoteKeySet:
        """Find ``jwks_uri`` through OpenID Connect discovery at ``issuer`` (blocking)."""
        meta = discover(issuer, client=http_client)
        return cls(meta.jwks_uri, issuer=meta.issuer, http_client=http_client, **options)

    @classmethod
    async def afrom_discovery(
        cls, issuer: str, *, async_http_client: httpx.AsyncClient | None = None, **options: Any
    ) -> RemoteKeySet:
        """Find ``jwks_uri`` through OpenID Connect discovery at ``issuer`` (asyncio)."""
        meta = await adiscover(issuer, client=async_http_client)
        return cls(meta.jwks_uri, issuer=meta.issuer, async_http_client=async_http_client,
                   **options)

    # -- observability ---------------------------------------------------------------------

    @property
    def fetch_count(self) -> int:
        """How many fetches were started (successful or not)."""
        return self._stats["fetches"]

    @property
    def stats(self) -> dict[str, float]:
        """Counters: fetches, fetch_failures, unknown_kid_refetches, key_not_found,
        stale_served; plus ``keys`` (usable entries) and ``age`` (seconds since the last
        successful fetch, ``-1`` when none)."""
        index = self._index
        age = self.clock() - self._fetched_at if index is not None else -1.0
        return {**self._stats, "keys": len(index) if index else 0, "age": age}

    def __repr__(self) -> str:
        return f"RemoteKeySet({self.jwks_uri!r}, issuer={self.issuer!r})"

    # -- the decision ------------------------------------------------------------------------

    def lookup(self, kid: str | None, alg: str) -> KeyEntry | None:
        """Fast path: a fresh key without I/O, or ``None`` (then ``resolve`` decides)."""
        index = self._index
        if index is None or self.clock() >= self._refresh_at:
            return None
        return index.lookup(kid, alg)

    def _plan(self, kid: str | None, alg: str, *, may_fetch: bool) -> tuple[int, Any]:
        """What to do now, under the lock: (_USE, entry), (_FETCH, future), (_WAIT, future),
        (_NOT_FOUND, None) or (_UNAVAILABLE, None)."""
        now = self.clock()
        index = self._index
        if index is not None and now >= self._fetched_at + self.stale_for:
            log.error("svcauth: JWKS at %s: keys older than %.0f s dropped (%s)",
                      self.jwks_uri, self.stale_for, self._last_error)
            for old in index.entries:
                old.alive = False
            index = self._index = None
        entry = index.lookup(kid, alg) if index is not None else None
        fresh = now < self._fetched_at + self.max_age
        if entry is not None and now < self._refresh_at:
            return _USE, entry
        inflight = self._flights.current(_KEYS)
        if inflight is not None:
            if entry is not None and fresh:
                return _USE, entry
            return _WAIT, inflight
        if may_fetch and (flight := self._start()) is not None:
            if entry is None and index is not None:
                self._stats["unknown_kid_refetches"] += 1
            return _FETCH, flight
        if entry is not None:
            if not fresh:
                self._stats["stale_served"] += 1
            return _USE, entry
        if index is not None:
            self._stats["key_not_found"] += 1
            return _NOT_FOUND, None
        return _UNAVAILABLE, None

    def _start(self, *, force: bool = False) -> Flight[bool] | None:
        flight = self._flights.start(_KEYS, force=force)
        if flight is not None:
            self._stats["fetches"] += 1
        return flight

    def _last_look(self, kid: str | None, alg: str) -> KeyEntry:
        # After the allowed fetches and waits: use what is there now, never fetch again.
        with self._lock:
            action, value = self._plan(kid, alg, may_fetch=False)
        if action == _USE:
            return value  # type: ignore[no-any-return]
        raise self._refused(_UNAVAILABLE if action == _WAIT else action, kid, alg)

    def _refused(self, action: int, kid: str | None, alg: str) -> Exception:
        if action == _NOT_FOUND:
            return key_not_found(kid, alg, len(self._index.kids) if self._index else 0)
        return KeySetUnavailableError(f"JWKS at {self.jwks_uri}: no usable keys; last fetch: "
                                      f"{self._last_error}")

    def _install(self, document: dict[str, Any]) -> None:
        index = index_from_jwks(document, issuer=self.issuer, previous=self._index)
        for reason in index.skipped:
            # Every Keycloak publishes an RSA-OAEP encryption key: skipping it is routine.
            level = logging.DEBUG if reason.endswith("use is not 'sig'") else logging.WARNING
            log.log(level, "svcauth: JWKS at %s: ignoring %s", self.jwks_uri, reason)
        if not index.entries:
            raise unavailable(self.jwks_uri, "expected at least one usable signing key, "
                              "found none")
        now = self.clock()
        with self._lock:
            self._index = index
            self._fetched_at = now
            self._refresh_at = now + self.max_age * REFRESH_AHEAD

    def _failed(self, exc: BaseException) -> None:
        reason = (exc.message.removeprefix(f"JWKS at {self.jwks_uri}: ")
                  if isinstance(exc, KeySetUnavailableError) else type(exc).__name__)
        with self._lock:
            self._last_error = reason
            self._stats["fetch_failures"] += 1
            index = self._index
            age = self.clock() - self._fetched_at
        if index is not None:
            log.warning("svcauth: JWKS fetch from %s failed (%s); keeping %d key(s) fetched "
                        "%.0f s ago (stale-if-error up to %.0f s)", self.jwks_uri, reason,
                        len(index), age, self.stale_for)
        else:
            log.warning("svcauth: JWKS fetch from %s failed (%s); no keys to fall back on",
                        self.jwks_uri, reason)

    # -- the flows (run by svcauth._flow's drivers) -------------------------------------------

    def _fetch_flow(self, flight: Flight[bool]) -> Flow[None]:
        ok = False
        try:
            self._install((yield from jwks_flow(self.jwks_uri, timeout=self.timeout,
                                                max_bytes=self.max_bytes)))
            ok = True
        except ValueError as exc:
            self._failed(unavailable(self.jwks_uri, str(exc)))
        except Exception as exc:
            self._failed(exc)
        except BaseException:  # cancelled: nobody got an answer, let the next caller try
            self._flights.forget(_KEYS)
            raise
        finally:
            self._flights.finish(flight, ok)

    def _resolve_flow(self, kid: str | None, alg: str) -> Flow[KeyEntry]:
        for may_fetch in (True, True, False):
            with self._lock:
                action, value = self._plan(kid, alg, may_fetch=may_fetch)
            if action == _USE:
                return value  # type: ignore[no-any-return]
            if action == _FETCH:
                yield from self._fetch_flow(value)
            elif action == _WAIT:
                if (yield Wait(value, self.timeout + 1.0)) == "reentrant":
                    break  # an async fetch led from this very thread: waiting would deadlock
            else:
                raise self._refused(action, kid, alg)
        return self._last_look(kid, alg)

    def _refresh_flow(self) -> Flow[bool]:
        with self._lock:
            flight = self._start(force=True)
            joined = self._flights.current(_KEYS) if flight is None else None
        if flight is not None:
            yield from self._fetch_flow(flight)
        elif joined is not None:
            yield Wait(joined, self.timeout + 1.0)
        return self._index is not None

    # -- the entry points ---------------------------------------------------------------------

    def resolve(self, kid: str | None, alg: str) -> KeyEntry:
        """The entry for ``kid``/``alg``, fetching (or waiting for a fetch) when needed."""
        return run_sync(self._resolve_flow(kid, alg), self._http)

    async def aresolve(self, kid: str | None, alg: str) -> KeyEntry:
        """As :meth:`resolve`; fetches and waits never block the event loop."""
        return await run_async(self._resolve_flow(kid, alg), self._ahttp)

    def refresh(self) -> bool:
        """Fetch now, cooldown or not, unless a fetch is in flight (then wait for it); for
        warming up at start. True when usable keys are held afterwards (blocking)."""
        return run_sync(self._refresh_flow(), self._http)

    async def arefresh(self) -> bool:
        """As :meth:`refresh`, on the event loop."""
        return await run_async(self._refresh_flow(), self._ahttp)
