"""Caching around any fetching source: one token per cache key, single flight across
threads and asyncio tasks, refresh-ahead in the background, brief memory of permanent
failures.

The cached path is an attribute read, a clock call and one float comparison, with no
lock. Everything else (key computation, single flight, refresh start) is the slow path,
taken only once the refresh point is passed or nothing is cached.

A fetch in flight is a ``concurrent.futures.Future`` so that threads wait on it with
``result()`` and tasks with ``asyncio.wrap_future``; it is marked running at once, so a
cancelled waiter cannot cancel it for the others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextvars
import random
import threading
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

from .._errors import TokenEndpointError, TokenError, TokenTransportError
from .._telemetry._metrics import instruments as _instruments
from .._telemetry._records import FETCH_REASON
from .._telemetry._state import STATE as _TELEMETRY
from .._telemetry._tally import client_tally
from ._credential import Credential
from ._dpop import DPoPKey, access_token_hash
from ._policy import Backoff, RefreshPolicy
from ._source import FetchingSource
from ._token import Token
from ._token_cache import EMPTY, Entry, Snapshot, TokenCache
from ._unauthorized import NOTHING_CACHED, UnauthorizedVerdict, unauthorized_verdict


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class CachingTokenSource:
    """A :class:`TokenSource` caching what a fetching source returns.

    >>> source = CachingTokenSource(ClientCredentialsSource(config))  # doctest: +SKIP
    >>> source.token()  # doctest: +SKIP

    ``clock`` must be the clock the wrapped source stamps tokens with (taken from its
    ``clock`` attribute when omitted). Timing comes from ``policy`` (else from the source's
    ``config``); ``sleep``/``asleep`` pace background refresh retries.

    Telemetry (:mod:`svcauth.telemetry`): with it on when the source is built, ``token()``
    and ``atoken()`` are the counting twins of the hot path (one ``int`` increment per hit);
    off, the hot path is the uninstrumented one. Fetches get a span, never hits.
    """

    def __init__(
        self, source: FetchingSource, *, clock: Callable[[], float] | None = None,
        policy: RefreshPolicy | None = None, cache: TokenCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Coroutine[Any, Any, Any]] = asyncio.sleep,
        backoff: Backoff | None = None, rng: random.Random | None = None,
    ) -> None:
        self._source = source
        self._clock: Callable[[], float] = (
            clock if clock is not None else getattr(source, "clock", time.monotonic))
        config = getattr(source, "config", None)
        make_policy = getattr(config, "refresh_policy", None)
        if policy is None and make_policy is not None:
            policy = make_policy()
        self.policy = policy or RefreshPolicy()
        deadline = getattr(config, "deadline", 10.0) + getattr(config, "timeout", 5.0)
        self._wait_timeout = deadline + 5.0
        self._cache = cache if cache is not None else TokenCache()
        self._sleep = sleep
        self._asleep = asleep
        self._backoff = backoff or Backoff(base=1.0, cap=30.0)
        self._rng = rng or random.Random()  # noqa: S311 - timing jitter, not crypto
        self._snap = EMPTY
        self._entry: Entry | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        dpop = getattr(source, "dpop", None)
        self._dpop: DPoPKey | None = dpop if isinstance(dpop, DPoPKey) else None
        client_id = getattr(config, "client_id", None)
        self._tally = client_tally(client_id if isinstance(client_id, str) else "unknown")
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
        if not self._clock() < snap.refresh_at:
            access_token = self.token()
            snap = self._snap
            if snap.access_token != access_token:
                return self._loose(access_token, method, url)
        return self._credential(snap, method, url)

    async def aauthorize(self, method: str, url: str) -> Credential:
        """Async twin of :meth:`authorize`."""
        snap = self._snap
        if not self._clock() < snap.refresh_at:
            access_token = await self.atoken()
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

    def remaining_lifetime(self) -> float | None:
        """Seconds until the cached token expires (negative once expired), ``None`` when
        nothing is cached; read by the remaining-lifetime metric, never on the hot path."""
        token = self.cached()
        return None if token is None else token.expires_at - self._clock()

    # -- slow path helpers --

    def _current_entry(self) -> Entry:
        key_fn = getattr(self._source, "cache_key", None)
        key: Hashable = key_fn() if key_fn is not None else ("source", id(self._source))
        entry = self._entry
        if entry is None or entry.key != key:
            old, entry = entry, self._cache.entry(key)
            self._entry = entry
            if old is not None:  # the credential changed: the old one's tokens go
                self._cache.discard(old.key)
            self._snap = entry.snap
        return entry

    def _begin(self, entry: Entry, loop: asyncio.AbstractEventLoop | None) -> cf.Future[Snapshot]:
        fut: cf.Future[Snapshot] = cf.Future()
        fut.set_running_or_notify_cancel()
        entry.inflight, entry.inflight_loop = fut, loop
        return fut

    def _remembered(self, entry: Entry, now: float) -> BaseException | None:
        if entry.failure is not None and now < entry.failure_until:
            # A fresh traceback each time: the remembered error is raised again and again.
            return entry.failure.with_traceback(None)
        return None

    @staticmethod
    def _abandoned(entry: Entry) -> bool:
        """A fetch started by a task whose event loop has stopped will never finish."""
        loop = entry.inflight_loop
        return loop is not None and (loop.is_closed() or not loop.is_running())

    def _snapshot(self, token: Token) -> Snapshot:
        p = self.policy
        return Snapshot(token.access_token, p.refresh_at(token, self._rng.random()),
                         p.fresh_until(token), token)

    def _settle(self, entry: Entry, fut: cf.Future[Snapshot],
                token: Token | None, exc: BaseException | None) -> None:
        with entry.lock:
            if token is not None:
                snap = self._snapshot(token)
                entry.snap, entry.failure = snap, None
                if self._entry is entry:
                    self._snap = snap
            elif isinstance(exc, TokenEndpointError) and exc.permanent:
                entry.failure = exc
                entry.failure_until = self._clock() + self.policy.failure_ttl
            if entry.inflight is fut:
                entry.inflight, entry.inflight_loop = None, None
        if token is not None:
            fut.set_result(entry.snap)
        else:
            assert exc is not None
            fut.set_exception(exc)

    def _fetch_sync(self, entry: Entry, fut: cf.Future[Snapshot], reason: str = "miss") -> None:
        reset = FETCH_REASON.set(reason)  # the fetch span's svcauth.cache.outcome
        try:
            token = self._source.fetch()
        except BaseException as exc:
            self._settle(entry, fut, None, exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            FETCH_REASON.reset(reset)
        self._settle(entry, fut, token, None)

    async def _fetch_async(self, entry: Entry, fut: cf.Future[Snapshot],
                           reason: str = "miss") -> None:
        FETCH_REASON.set(reason)  # this task's own context
        try:
            token = await self._source.afetch()
        except asyncio.CancelledError:
            self._settle(entry, fut, None, TokenTransportError("token fetch cancelled"))
            raise
        except Exception as exc:
            self._settle(entry, fut, None, exc)
            return
        self._settle(entry, fut, token, None)

    def _retry_wait(self, entry: Entry, fut: cf.Future[Snapshot], attempt: int) -> float | None:
        """Seconds until the next background attempt, or None to stop refreshing."""
        exc = fut.exception()
        if exc is None or (isinstance(exc, TokenEndpointError) and exc.permanent):
            return None
        wait = self._backoff.delay(attempt, self._rng.random())
        with entry.lock:
            if self._clock() + wait >= entry.snap.fresh_until:
                return None  # callers will fetch themselves once the token is no longer served
        return wait

    def _next_attempt(self, entry: Entry, old: Snapshot,
                      loop: asyncio.AbstractEventLoop | None) -> cf.Future[Snapshot] | None:
        with entry.lock:
            if entry.inflight is not None or entry.snap is not old:
                return None
            return self._begin(entry, loop)

    def _refresh_thread(self, entry: Entry, fut: cf.Future[Snapshot], old: Snapshot) -> None:
        attempt = 0
        while True:
            self._fetch_sync(entry, fut, "refresh_ahead")
            wait = self._retry_wait(entry, fut, attempt)
            if wait is None:
                return
            attempt += 1
            self._sleep(wait)
            nxt = self._next_attempt(entry, old, None)
            if nxt is None:
                return
            fut = nxt

    async def _refresh_task(self, entry: Entry, fut: cf.Future[Snapshot], old: Snapshot) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while True:
            await self._fetch_async(entry, fut, "refresh_ahead")
            wait = self._retry_wait(entry, fut, attempt)
            if wait is None:
                return
            attempt += 1
            await self._asleep(wait)
            nxt = self._next_attempt(entry, old, loop)
            if nxt is None:
                return
            fut = nxt

    def _spawn(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]) -> None:
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- slow paths --

    def _token_slow(self) -> str:
        entry = self._current_entry()
        here = _running_loop()
        with entry.lock:
            now = self._clock()
            snap = entry.snap
            if now < snap.fresh_until:
                self._snap = snap
                if now >= snap.refresh_at and (entry.inflight is None or self._abandoned(entry)):
                    fut = self._begin(entry, None)
                    # The caller's context goes along: the refresh span joins its trace.
                    threading.Thread(target=contextvars.copy_context().run,
                                     args=(self._refresh_thread, entry, fut, snap),
                                     name="svcauth-refresh", daemon=True).start()
                    self._tally.refresh_ahead += 1
                else:
                    self._tally.hits += 1
                return snap.access_token
            failure = self._remembered(entry, now)
            if failure is not None:
                self._tally.failures += 1
                raise failure
            # Waiting in this thread for a task of this thread's own loop would deadlock.
            lead = (entry.inflight is None or self._abandoned(entry)
                    or (here is not None and entry.inflight_loop is here))
            joined = entry.inflight
            fut = joined if joined is not None and not lead else self._begin(entry, None)
        self._tally.misses += 1
        if lead:
            self._fetch_sync(entry, fut)
        try:
            return fut.result(timeout=self._wait_timeout).access_token
        except cf.TimeoutError:
            self._tally.failures += 1
            raise TokenTransportError(
                f"no token after waiting {self._wait_timeout:g} s for the fetch in flight"
            ) from None
        except BaseException:
            self._tally.failures += 1
            raise

    async def _atoken_slow(self) -> str:
        entry = self._current_entry()
        loop = asyncio.get_running_loop()
        with entry.lock:
            now = self._clock()
            snap = entry.snap
            if now < snap.fresh_until:
                self._snap = snap
                if now >= snap.refresh_at and (entry.inflight is None or self._abandoned(entry)):
                    fut = self._begin(entry, loop)
                    self._spawn(loop, self._refresh_task(entry, fut, snap))
                    self._tally.refresh_ahead += 1
                else:
                    self._tally.hits += 1
                return snap.access_token
            failure = self._remembered(entry, now)
            if failure is not None:
                self._tally.failures += 1
                raise failure
            joining = None if self._abandoned(entry) else entry.inflight
            fut = joining if joining is not None else self._begin(entry, loop)
        self._tally.misses += 1
        if joining is None:
            self._spawn(loop, self._fetch_async(entry, fut))
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(fut), self._wait_timeout)
        except TimeoutError:
            self._tally.failures += 1
            raise TokenTransportError(
                f"no token after waiting {self._wait_timeout:g} s for the fetch in flight"
            ) from None
        except BaseException:
            self._tally.failures += 1
            raise
        return result.access_token
