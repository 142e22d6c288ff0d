"""The shared store of cached tokens: one entry per cache key, each holding the snapshot the
hot path reads, the fetch in flight and a remembered permanent failure."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
from collections.abc import Hashable

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
    """State of one cache key; every field is guarded by ``lock`` (never held across I/O)."""

    __slots__ = ("failure", "failure_until", "inflight", "inflight_loop", "key", "lock", "snap",
                 "unauthorized_refresh")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.snap = EMPTY
        self.inflight: cf.Future[Snapshot] | None = None
        self.inflight_loop: asyncio.AbstractEventLoop | None = None
        self.failure: BaseException | None = None
        self.failure_until = NEVER
        # When a 401 last caused a refresh of this key (the storm cooldown; see _unauthorized).
        self.unauthorized_refresh = NEVER


class TokenCache:
    """Tokens by cache key. Share one between sources to share tokens and fetches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, Entry] = {}

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
