"""The shared store of cached tokens: one entry per cache key, each holding the snapshot the
hot path reads and a remembered permanent failure, plus one single flight per key."""

from __future__ import annotations

import threading
from collections.abc import Hashable

from .._singleflight import SingleFlight
from ._credential import Credential
from ._dpop import access_token_hash
from ._token import Token

NEVER = float("-inf")


class Snapshot:
    """What the hot path reads. Killed (times set to -inf) when invalidated or dropped."""

    __slots__ = ("access_token", "ath", "credential", "fresh_until", "refresh_at", "token")

    def __init__(self, access_token: str, refresh_at: float, fresh_until: float,
                 token: Token | None) -> None:
        self.access_token = access_token
        self.refresh_at = refresh_at
        self.fresh_until = fresh_until
        self.token = token
        bound = token is not None and token.token_type == "DPoP"
        self.credential = None if bound else Credential("Bearer", access_token)
        """The Bearer credential, built once; ``None`` for a DPoP-bound token."""
        self.ath = access_token_hash(access_token) if bound else None
        """The token's hash for DPoP proofs (``ath``), computed once."""

    def kill(self) -> None:
        self.refresh_at = self.fresh_until = NEVER


EMPTY = Snapshot("", NEVER, NEVER, None)


class Entry:
    """State of one cache key; every field is guarded by ``lock`` (never held across I/O).
    Its fetch in flight is the key's flight in :attr:`TokenCache.flights`."""

    __slots__ = ("failure", "failure_until", "key", "lock", "snap", "unauthorized_refresh")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.snap = EMPTY
        self.failure: BaseException | None = None
        self.failure_until = NEVER
        # When a 401 last caused a refresh of this key (the storm cooldown; see _unauthorized).
        self.unauthorized_refresh = NEVER


class TokenCache:
    """Tokens by cache key. Share one between sources to share tokens and fetches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, Entry] = {}
        self.flights: SingleFlight[Hashable, Snapshot] = SingleFlight()
        """The fetch in flight per cache key (lock order: an entry's lock, then this)."""

    def entry(self, key: Hashable) -> Entry:
        """The entry for ``key``, created empty when missing."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                found = self._entries[key] = Entry(key)
            return found

    def discard(self, key: Hashable) -> None:
        """Drop ``key``'s entry and stop every holder from serving its token."""
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is not None:
            with entry.lock:
                entry.snap.kill()
                entry.snap = EMPTY

    def __len__(self) -> int:
        return len(self._entries)
