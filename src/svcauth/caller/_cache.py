"""Caching around any fetching source: one token per cache key, single flight across
threads and asyncio tasks, refresh-ahead in the background, brief memory of permanent
failures.

The cached path is an attribute read, a clock call and one float comparison, with no
lock. Everything else is the slow path, taken only once the refresh point is passed or
nothing is cached, and written once as a flow (:mod:`svcauth._flow`) that ``run_sync`` and
``run_async`` drive: the fetch in flight is a :class:`~svcauth._singleflight.Flight` of the
cache's one :class:`~svcauth._singleflight.SingleFlight` (the primitive the remote key set
uses too), led inline by a thread or as a task of its own by a coroutine, so a cancelled
waiter never cancels it for the others.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from .._errors import TokenEndpointError, TokenError, TokenTransportError
from .._flow import Call, Flow, Sleep, Start, Wait, run_async, run_sync
from .._singleflight import Flight
from .._telemetry._metrics import instruments as _instruments
from .._telemetry._records import FETCH_REASON
from .._telemetry._state import STATE as _TELEMETRY
from .._telemetry._tally import client_tally
from ._credential import Credential
from ._dpop import DPoPKey, access_token_hash
from ._policy import Backoff, RefreshPolicy
from ._source import CacheableSource
from ._token import Token
from ._token_cache import EMPTY, Entry, Snapshot, TokenCache
from ._unauthorized import NOTHING_CACHED, UnauthorizedVerdict, unauthorized_verdict


class CachingTokenSource:
    """A :class:`TokenSource` caching what a fetching source returns.

    >>> source = CachingTokenSource(ClientCredentialsSource(config))  # doctest: +SKIP
    >>> source.token()  # doctest: +SKIP

    ``clock`` must be the clock the wrapped source stamps tokens with (taken from its
    ``clock`` attribute when omitted). ``on_snapshot`` hears every snapshot the hot path
    starts serving (how :class:`~svcauth.caller.TokenExchanger` keeps its hot table).
    Timing comes from ``policy`` (else from the source's ``config.refresh_policy()``, whose
    ``refresh_backoff`` paces background refresh retries unless ``backoff`` is given);
    ``sleep``/``asleep`` do the waiting.

    Telemetry (:mod:`svcauth.telemetry`): with it on when the source is built, ``token()``
    and ``atoken()`` are the counting twins of the hot path (one ``int`` increment per hit);
    off, the hot path is the uninstrumented one. Fetches get a span, never hits.
    """

    def __init__(
        self, source: CacheableSource, *, clock: Callable[[], float] | None = None,
        policy: RefreshPolicy | None = None, cache: TokenCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Coroutine[Any, Any, Any]] = asyncio.sleep,
        backoff: Backoff | None = None, rng: random.Random | None = None,
        on_snapshot: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self._source = source
        self._on_snapshot = on_snapshot
        self._clock: Callable[[], float] = clock if clock is not None else source.clock
        config = source.config
        self.policy = policy or config.refresh_policy()
        """The refresh timing (the source's ``config.refresh_policy()`` unless given)."""
        self._wait_timeout = config.deadline + config.timeout + 5.0
        self._cache = cache if cache is not None else TokenCache()
        self._sleep = sleep
        self._asleep = asleep
        self._backoff = backoff or self.policy.refresh_backoff
        self._rng = rng or random.Random()  # noqa: S311 - timing jitter, not crypto
        self._snap = EMPTY
        self._entry: Entry | None = None
        self._dpop: DPoPKey | None = source.dpop
        self._tally = client_tally(config.client_id)
        if _TELEMETRY.enabled:
            _instruments()
            self._tally.sources.add(self)
            # Instance attributes shadow the methods: the counting hot path costs nothing
            # to the uninstrumented build (setattr keeps mypy from objecting to the rebind).
            setattr(self, "token", self._token_counted)  # noqa: B010
            setattr(self, "atoken", self._atoken_counted)  # noqa: B010

    def __repr__(self) -> str:
        return f"CachingTokenSource({self._source!r})"

    # -- the hot path --

    def token(self) -> str:
        """A valid access token: cached, or fetched once for all concurrent callers."""
        snap = self._snap
        if self._clock() < snap.refresh_at:
            return snap.access_token
        return self._token_slow()

    async def atoken(self) -> str:
        """Async twin of :meth:`token`; never blocks the event loop."""
        snap = self._snap
        if self._clock() < snap.refresh_at:
            return snap.access_token
        return await self._atoken_slow()

    def _token_counted(self) -> str:
        """:meth:`token` counting cache hits (telemetry on)."""
        snap = self._snap
        if self._clock() < snap.refresh_at:
            self._tally.hits += 1
            return snap.access_token
        return self._token_slow()

    async def _atoken_counted(self) -> str:
        """:meth:`atoken` counting cache hits (telemetry on)."""
        snap = self._snap
        if self._clock() < snap.refresh_at:
            self._tally.hits += 1
            return snap.access_token
        return await self._atoken_slow()

    # -- credentials: what integrations ask for --

    def authorize(self, method: str, url: str) -> Credential:
        """The credential for ``method url``: ``Bearer <token>``, or ``DPoP <token>`` with a
        fresh proof when the token is bound to the source's DPoP key."""
        snap = self._snap
        if self._clock() < snap.refresh_at:
            return self._credential(snap, method, url)
        return self._for(self.token(), method, url)

    async def aauthorize(self, method: str, url: str) -> Credential:
        """Async twin of :meth:`authorize`."""
        snap = self._snap
        if self._clock() < snap.refresh_at:
            return self._credential(snap, method, url)
        return self._for(await self.atoken(), method, url)

    def _for(self, access_token: str, method: str, url: str) -> Credential:
        snap = self._snap
        if snap.access_token != access_token:
            return self._loose(access_token, method, url)
        return self._credential(snap, method, url)

    def _loose(self, access_token: str, method: str, url: str) -> Credential:
        """A credential for a token handed out while the snapshot was being replaced."""
        cached = self.cached()
        bound = (cached.token_type == "DPoP" if cached is not None
                 and cached.access_token == access_token else self._dpop is not None)
        if not bound or self._dpop is None:
            return Credential("Bearer", access_token)
        proof = self._dpop.proof(method, url, ath=access_token_hash(access_token))
        return Credential("DPoP", access_token, (("DPoP", proof),))

    def _credential(self, snap: Snapshot, method: str, url: str) -> Credential:
        credential = snap.credential
        if credential is not None:
            return credential
        dpop = self._dpop
        if dpop is None or snap.ath is None:
            raise TokenError("a DPoP-bound token came back but the source has no DPoP key")
        proof = dpop.proof(method, url, ath=snap.ath)
        return Credential("DPoP", snap.access_token, (("DPoP", proof),))

    def accept_nonce(self, url: str, nonce: str) -> None:
        """Remember a server's ``DPoP-Nonce`` for ``url``'s origin (no-op without DPoP)."""
        if self._dpop is not None:
            self._dpop.remember_nonce(url, nonce)

    def invalidate(self, access_token: str) -> bool:
        """A resource server refused ``access_token`` (401): whether to resend the request.

        True when a retry with :meth:`token` is warranted: the refused token was dropped (it
        was the cached one, not fresh, and no 401 refreshed this cache key within the
        cooldown) or a newer token is cached already. See :meth:`unauthorized`.
        """
        return self.unauthorized(access_token).retry

    def unauthorized(self, access_token: str) -> UnauthorizedVerdict:
        """The 401 decision for ``access_token`` with its reason, applied to the cache.

        The one rule of :mod:`svcauth.caller._unauthorized`, kept per cache key (sources
        sharing a :class:`TokenCache` share the cooldown). A ``refresh`` verdict drops the
        token and starts the cooldown, so the next :meth:`token` fetches exactly once.
        """
        entry = self._entry
        if entry is None:
            return UnauthorizedVerdict(NOTHING_CACHED)
        p = self.policy
        with entry.lock:
            now = self._clock()
            snap = entry.snap
            verdict = unauthorized_verdict(
                refused=access_token, cached=snap.access_token,
                issued_at=snap.token.issued_at if snap.token is not None else None,
                last_refresh=entry.unauthorized_refresh, now=now,
                cooldown=p.unauthorized_cooldown, fresh=p.unauthorized_fresh)
            if verdict.refresh:
                snap.kill()
                entry.snap = EMPTY
                entry.unauthorized_refresh = now
        return verdict

    def cached(self) -> Token | None:
        """The cached token, fresh or not, without fetching (for diagnostics)."""
        entry = self._entry
        return entry.snap.token if entry is not None else None

    @property
    def clock(self) -> Callable[[], float]:
        """The clock the cached tokens' times are on (``Token.issued_at``/``expires_at``);
        what a long-lived connection (:mod:`svcauth.amqp`) schedules its renewals with."""
        return self._clock

    def remaining_lifetime(self) -> float | None:
        """Seconds until the cached token expires (negative once expired), ``None`` when
        nothing is cached; read by the remaining-lifetime metric, never on the hot path."""
        token = self.cached()
        return None if token is None else token.expires_at - self._clock()

    # -- slow path helpers --

    def _current_entry(self) -> Entry:
        key = self._source.cache_key()
        entry = self._entry
        if entry is None or entry.key != key:
            old, entry = entry, self._cache.entry(key)
            self._entry = entry
            if old is not None:  # the credential changed: the old one's tokens go
                self._cache.discard(old.key)
            self._show(entry.snap)
        return entry

    def _show(self, snap: Snapshot) -> None:
        """Serve ``snap`` from the hot path (and tell ``on_snapshot``: the exchanger's own
        hot path reads the snapshots of its sources directly)."""
        self._snap = snap
        if self._on_snapshot is not None:
            self._on_snapshot(snap)

    def _remembered(self, entry: Entry, now: float) -> BaseException | None:
        if entry.failure is not None and now < entry.failure_until:
            # A fresh traceback each time: the remembered error is raised again and again.
            return entry.failure.with_traceback(None)
        return None

    def _snapshot(self, token: Token) -> Snapshot:
        p = self.policy
        return Snapshot(token.access_token, p.refresh_at(token, self._rng.random()),
                         p.fresh_until(token), token)

    def _settle(self, entry: Entry, flight: Flight[Snapshot] | None,
                token: Token | None, exc: BaseException | None) -> None:
        snap: Snapshot | None = None
        with entry.lock:
            if token is not None:
                snap = self._snapshot(token)
                entry.snap, entry.failure = snap, None
                if self._entry is entry:
                    self._show(snap)
            elif isinstance(exc, TokenEndpointError) and exc.permanent:
                entry.failure = exc
                entry.failure_until = self._clock() + self.policy.failure_ttl
        if flight is not None:
            self._cache.flights.finish(flight, snap, None if snap is not None else exc)

    def _retry_wait(self, entry: Entry, error: BaseException | None,
                    attempt: int) -> float | None:
        """Seconds until the next background attempt, or None to stop refreshing."""
        if error is None or (isinstance(error, TokenEndpointError) and error.permanent):
            return None
        wait = self._backoff.delay(attempt, self._rng.random())
        with entry.lock:
            if self._clock() + wait >= entry.snap.fresh_until:
                return None  # callers will fetch themselves once the token is no longer served
        return wait

    # -- the flows: written once, driven by run_sync (threads) or run_async (tasks) --

    def _fetch(self, entry: Entry, flight: Flight[Snapshot] | None,
               reason: str) -> Flow[BaseException | None]:
        """One fetch, settled into ``entry`` and ``flight`` (``None``: unshared); the error
        it ended with, if any (a non-``Exception`` is settled, then raised)."""
        reset = FETCH_REASON.set(reason)  # the fetch span's svcauth.cache.outcome
        try:
            token: Token = yield Call(self._source.fetch, self._source.afetch)
        except asyncio.CancelledError:
            self._settle(entry, flight, None, TokenTransportError("token fetch cancelled"))
            raise
        except BaseException as exc:
            self._settle(entry, flight, None, exc)
            if not isinstance(exc, Exception):
                raise
            return exc
        finally:
            FETCH_REASON.reset(reset)
        self._settle(entry, flight, token, None)
        return None

    def _refresh(self, entry: Entry, flight: Flight[Snapshot], old: Snapshot) -> Flow[None]:
        """Refresh-ahead: fetch, and after a transient failure wait (``policy.refresh_backoff``)
        and try again while ``old`` is still the one served."""
        attempt = 0
        while True:
            error = yield from self._fetch(entry, flight, "refresh_ahead")
            wait = self._retry_wait(entry, error, attempt)
            if wait is None:
                return
            attempt += 1
            yield Sleep(wait)
            with entry.lock:
                nxt = (self._cache.flights.start(entry.key, detached=flight.thread is None)
                       if entry.snap is old else None)
            if nxt is None:
                return
            flight = nxt

    def _obtain(self, threaded: bool) -> Flow[str]:
        """The slow path: serve (and start refreshing) a token still fresh, raise a
        remembered failure, or lead or join the key's fetch. ``threaded``: run by the sync
        driver, whose background refresh is a thread of its own (a detached flight)."""
        entry = self._current_entry()
        flights = self._cache.flights
        with entry.lock:
            now = self._clock()
            snap = entry.snap
            if now < snap.fresh_until:
                self._show(snap)
                refresh = (flights.start(entry.key, detached=threaded)
                           if now >= snap.refresh_at else None)
                failure, joined = None, None
            else:
                refresh, failure = None, self._remembered(entry, now)
                joined = flights.join(entry.key) if failure is None else None
        if joined is None:
            if failure is not None:
                self._tally.failures += 1
                raise failure
            if refresh is None:
                self._tally.hits += 1
            else:
                self._tally.refresh_ahead += 1
                yield Start(self._refresh(entry, refresh, snap), name="svcauth-refresh")
            return snap.access_token
        self._tally.misses += 1
        flight, lead = joined
        if lead:  # inline in a thread; a task of its own under asyncio
            yield Start(self._fetch(entry, flight, "miss"), inline=True)
        waited = "done" if flight.future.done() else (
            yield Wait(flight, self._wait_timeout))
        if waited == "reentrant":
            # This thread leads the flight (or runs the loop whose task does): waiting here
            # would deadlock, so it fetches for itself.
            error = yield from self._fetch(entry, None, "miss")
            if error is not None:
                self._tally.failures += 1
                raise error
            return entry.snap.access_token
        if waited == "timeout":
            self._tally.failures += 1
            raise TokenTransportError(
                f"no token after waiting {self._wait_timeout:g} s for the fetch in flight")
        try:
            return flight.future.result().access_token
        except BaseException:
            self._tally.failures += 1
            raise

    def _token_slow(self) -> str:
        return run_sync(self._obtain(threaded=True), sleep=self._sleep)

    async def _atoken_slow(self) -> str:
        return await run_async(self._obtain(threaded=False), sleep=self._asleep)
