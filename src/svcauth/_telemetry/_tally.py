"""Plain-int tallies: what the hot paths bump, and what observable instruments read lazily.

An ``int`` increment is the whole cost on a hot path; nothing is created, locked or
exported there. ``+=`` from several threads may lose an increment now and then (the GIL does
not make it atomic); these are metrics, not accounts.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Any


class ClientTally:
    """Token requests of one client id, by outcome, and its live caching sources."""

    __slots__ = ("client_id", "failures", "hits", "misses", "refresh_ahead", "sources")

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        """The client id these counts are about."""
        self.hits = 0
        """``token()`` answered from the cache (counted only while telemetry is on)."""
        self.refresh_ahead = 0
        """Answered from the cache while starting a background refresh."""
        self.misses = 0
        """Callers that waited for a fetch (nothing valid cached)."""
        self.failures = 0
        """Callers that got an error (a failed fetch or a remembered permanent failure)."""
        self.sources: weakref.WeakSet[Any] = weakref.WeakSet()
        """Live caching sources of this client (read for the remaining-lifetime gauge)."""

    def outcomes(self) -> dict[str, int]:
        """Counts by outcome label."""
        return {"hit": self.hits, "refresh_ahead": self.refresh_ahead, "miss": self.misses,
                "failure": self.failures}


_clients: dict[str, ClientTally] = {}
_clients_lock = threading.Lock()


def client_tally(client_id: str) -> ClientTally:
    """The shared tally of ``client_id`` (one per client id for the life of the process)."""
    with _clients_lock:
        found = _clients.get(client_id)
        if found is None:
            found = _clients[client_id] = ClientTally(client_id)
        return found


def client_tallies() -> list[ClientTally]:
    """Every client tally so far."""
    with _clients_lock:
        return list(_clients.values())


verifications: Counter[tuple[str, str]] = Counter()
"""Uncached verifications by (outcome, error code); cache hits are read from the caches."""

refusals: Counter[tuple[str, int]] = Counter()
"""Requests a ``Guard`` refused, by (error code, HTTP status)."""


class CacheRegistry:
    """Hits and misses of every verified-token cache, monotonic across garbage collection.

    A cache's counts are read when metrics are collected; once a cache is gone, its last
    read counts stay in the retired totals (counts since that last read are lost).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, tuple[weakref.ref[Any], int, int]] = {}
        self._retired = [0, 0]

    def add(self, cache: Any) -> None:
        """Follow ``cache`` (any object with ``hits`` and ``misses`` ints)."""
        with self._lock:
            self._live[id(cache)] = (weakref.ref(cache), 0, 0)

    def totals(self) -> tuple[int, int]:
        """(hits, misses) over every cache followed so far."""
        hits, misses = self._retired
        with self._lock:
            for key, (ref, last_hits, last_misses) in list(self._live.items()):
                cache = ref()
                if cache is None:
                    self._retired[0] += last_hits
                    self._retired[1] += last_misses
                    hits += last_hits
                    misses += last_misses
                    del self._live[key]
                    continue
                now_hits, now_misses = int(cache.hits), int(cache.misses)
                self._live[key] = (ref, now_hits, now_misses)
                hits += now_hits
                misses += now_misses
        return hits, misses


caches = CacheRegistry()
