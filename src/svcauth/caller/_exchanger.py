"""``TokenExchanger``: a service's token for a downstream audience, on a user's behalf.

::

    exchanger = TokenExchanger(ClientCredentialsSource(config))
    token = exchanger.exchange(user_token, audience="payment-service")
    # or: await exchanger.aexchange(...); or a TokenSource for BearerAuth:
    client = httpx.Client(auth=BearerAuth(exchanger.source(user_token, audience="payment-service")))

Exchanged tokens are cached per (client, SHA-256 of the subject token, audience, scope) in a
:class:`~svcauth.caller.TokenCache` (the client-credentials cache, not a second one): one
exchange in flight per key however many threads and tasks ask, a permanent refusal
remembered for ``failure_ttl``, the 401 rule of :mod:`svcauth.caller._unauthorized`. An
exchanged token is never served past the subject token's ``exp``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence

from .._errors import ConfigurationError
from .._telemetry._state import STATE as _TELEMETRY
from .._telemetry._tally import client_tally
from ._cache import CachingTokenSource
from ._exchange import ExchangeFetch
from ._policy import RefreshPolicy
from ._source import ClientCredentialsSource
from ._token_cache import Snapshot, TokenCache

_Words = str | Sequence[str] | None
_Key = tuple[str, Hashable, Hashable]
_SCOPED = object()  # marks (audience, scope) front keys: no audience tuple can equal them


def _words(value: _Words, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split() if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) and v for v in items):
        raise ConfigurationError(f"exchange {name}: expected client ids / scope names as "
                                 f"non-empty strings, found {value!r}"[:200])
    return tuple(dict.fromkeys(items))


class TokenExchanger:
    """Exchanges subject tokens (a user's access token) for tokens of a downstream audience.

    ``client`` is the exchanging service's own :class:`ClientCredentialsSource` (its
    credentials, endpoint, clients and clocks). ``cache`` may be shared with the service's
    ``CachingTokenSource``; ``max_subjects`` bounds how many subject tokens are remembered
    (expired ones go first, then the oldest). 10,000 by default.

    Telemetry: with it on when the exchanger is built, a cache hit of :meth:`exchange` and
    :meth:`aexchange` is counted (as :class:`~svcauth.caller.CachingTokenSource` counts
    its own); off, nothing is.
    """

    def __init__(self, client: ClientCredentialsSource, *, cache: TokenCache | None = None,
                 policy: RefreshPolicy | None = None, max_subjects: int = 10_000) -> None:
        if max_subjects < 1:
            raise ConfigurationError(f"TokenExchanger max_subjects: expected >= 1, found "
                                     f"{max_subjects}")
        self.client = client
        """The exchanging service's own source."""
        self.cache = cache if cache is not None else TokenCache()
        """Where exchanged tokens live (shared single flight per key)."""
        self._policy = policy
        self._max = max_subjects
        # (subject token, audience, scope) as the caller passed them -> its source and
        # fetch. The token is a key here only while its exchanged token may be served.
        self._sources: dict[_Key, tuple[CachingTokenSource, ExchangeFetch]] = {}
        # The hot path's one table: subject -> audience (or (audience, scope)) -> the
        # snapshot its source serves, which holds its own refresh point (kept current by
        # the source's on_snapshot; a killed snapshot's refresh point is -inf).
        self._front: dict[str, dict[Hashable, Snapshot]] = {}
        self._clock = client.clock
        self._lock = threading.Lock()
        # Its sources' tally too. With telemetry on when the exchanger is built, a hit
        # counts itself (one int increment, read by the telemetry's hit ratio); off, the
        # hit path only tests this flag, as the client-credentials one counts nothing.
        self._tally = client_tally(client.config.client_id)
        self._counted = _TELEMETRY.enabled

    def __repr__(self) -> str:
        return f"TokenExchanger({self.client!r}, subjects={len(self._sources)})"

    # -- the hot path --

    def exchange(self, subject_token: str, audience: _Words = None,
                 scope: _Words = None) -> str:
        """An access token for ``audience`` naming the subject token's user (blocking).

        Cached until shortly before the earlier of its own expiry and the subject token's
        ``exp``. Raises :class:`~svcauth.TokenEndpointError` with the provider's ``error``
        when it refuses (``access_denied``: this client is not in the subject's ``aud``).
        """
        # The hit path: two subscripts (the subject's str hash is cached on the str), the
        # snapshot's own refresh point and the clock: no tuple, no method call but the clock.
        try:
            snap = self._front[subject_token][audience if scope is None else (_SCOPED, audience, scope)]
        except (KeyError, TypeError):  # a miss, or a list (normalised on the slow path)
            return self.source(subject_token, audience, scope).token()
        if self._clock() < snap.refresh_at:
            if self._counted:
                self._tally.hits += 1
            return snap.access_token
        return self.source(subject_token, audience, scope).token()

    async def aexchange(self, subject_token: str, audience: _Words = None,
                        scope: _Words = None) -> str:
        """Async twin of :meth:`exchange`; never blocks the event loop."""
        try:
            snap = self._front[subject_token][audience if scope is None else (_SCOPED, audience, scope)]
        except (KeyError, TypeError):
            return await self.source(subject_token, audience, scope).atoken()
        if self._clock() < snap.refresh_at:
            if self._counted:
                self._tally.hits += 1
            return snap.access_token
        return await self.source(subject_token, audience, scope).atoken()

    # -- sources --

    def source(self, subject_token: str, audience: _Words = None,
               scope: _Words = None) -> CachingTokenSource:
        """The :class:`TokenSource` of one (subject, audience, scope), for ``BearerAuth``."""
        if not isinstance(subject_token, str) or not subject_token:
            raise ConfigurationError("exchange subject_token: expected the user's access "
                                     "token, found none", code="config_missing")
        aud, sc = _words(audience, "audience"), _words(scope, "scope")
        # Keyed as the caller spells it (the hot path builds no normalised key); spellings
        # of the same request share one TokenCache entry through the fetch's cache key.
        key = (subject_token, _hashable(audience), _hashable(scope))
        with self._lock:
            found = self._sources.get(key)
            if found is None:
                self._prune()
                fetch = ExchangeFetch(self.client, subject_token, aud, sc)
                found = (CachingTokenSource(fetch, cache=self.cache, policy=self._policy,
                                            on_snapshot=self._shown(key)), fetch)
                self._sources[key] = found
        return found[0]

    def _shown(self, key: _Key) -> Callable[[Snapshot], None]:
        """The ``on_snapshot`` of ``key``'s source: its snapshot goes into the hot table
        (unless the key was dropped meanwhile). Takes no lock: it runs under the entry's."""
        subject, front_key = key[0], _front_key(key)

        def shown(snap: Snapshot) -> None:
            if key in self._sources:
                self._front.setdefault(subject, {})[front_key] = snap
        return shown

    def forget(self, subject_token: str) -> int:
        """Drop every exchanged token of ``subject_token`` (the user logged out); how many."""
        with self._lock:
            keys = [k for k in self._sources if k[0] == subject_token]
            self._drop(keys)
        return len(keys)

    def __len__(self) -> int:
        """How many (subject, audience, scope) keys are remembered."""
        return len(self._sources)

    def _drop(self, keys: list[_Key]) -> None:
        for key in keys:
            found = self._sources.pop(key, None)
            by_key = self._front.get(key[0])
            if by_key is not None:
                by_key.pop(_front_key(key), None)
                if not by_key:
                    del self._front[key[0]]
            if found is not None:
                self.cache.discard(found[1].cache_key())

    def _prune(self) -> None:
        """Called with the lock held before adding a key: at the bound, drop the keys whose
        token is past its expiry (or was never fetched), then the oldest down to 90 % of the
        bound, so that the scan runs once per tenth of the bound, not on every insertion."""
        if len(self._sources) < self._max:
            return
        stale = [k for k, (s, _) in self._sources.items()
                 if (left := s.remaining_lifetime()) is None or left <= 0]
        self._drop(stale)
        keep = min(self._max - 1, (self._max * 9) // 10)
        if len(self._sources) > keep:
            self._drop(list(self._sources)[: len(self._sources) - keep])


def _front_key(key: _Key) -> Hashable:
    """The hot table's inner key: the audience as passed, or (marker, audience, scope)."""
    return key[1] if key[2] is None else (_SCOPED, key[1], key[2])


def _hashable(value: _Words) -> Hashable:
    return value if value is None or isinstance(value, str | tuple) else tuple(value)
