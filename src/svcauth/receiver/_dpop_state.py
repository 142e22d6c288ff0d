"""The stateful parts of DPoP on the receiver: the ``jti`` replay cache and server nonces."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .._errors import ConfigurationError
from .._jws import b64url_encode

__all__ = ["DPoPNonces", "ReplayCache"]


class ReplayCache:
    """Seen proof ``jti`` values, bounded in size and in time.

    An entry lives until its proof's ``iat`` leaves the acceptance window. When ``maxsize``
    is reached the oldest entry goes, and every proof not newer than the evicted one is
    refused from then on (``dpop_iat_stale``): a replay can never slip through an eviction.
    Shared by the threads of one process; a cluster of receivers behind a load balancer
    needs a shared store (or server nonces) instead.
    """

    def __init__(self, maxsize: int = 100_000) -> None:
        if maxsize < 1:
            raise ConfigurationError(f"ReplayCache maxsize: expected >= 1, found {maxsize}")
        self.maxsize = maxsize
        """At most this many ``jti`` values are remembered."""
        self._seen: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._floor = float("-inf")
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    @property
    def floor(self) -> float:
        """Proofs with an ``iat`` not after this are refused: an entry that young was
        evicted for room, so a replay of it could not be told (``-inf`` until then)."""
        return self._floor

    def add(self, jti: str, iat: float, until: float, now: float) -> bool:
        """Remember ``jti`` until ``until``; False when it was seen (or cannot be told)."""
        seen = self._seen
        with self._lock:
            if iat <= self._floor or jti in seen:
                return False
            # Expired entries leave from the front (entries arrive roughly in time order).
            while seen:
                first = next(iter(seen.values()))
                if first[1] > now:
                    break
                seen.popitem(last=False)
            seen[jti] = (iat, until)
            while len(seen) > self.maxsize:
                _, (old_iat, old_until) = seen.popitem(last=False)
                if old_until > now:
                    self._floor = max(self._floor, old_iat)
            return True


class DPoPNonces:
    """Stateless server nonces (RFC 9449 §8/§9): an HMAC of a time window.

    A nonce is valid in its window and the next one, so it lives ``lifetime`` to
    ``2 * lifetime`` seconds. ``secret`` defaults to 32 random bytes (one process); give
    every replica the same secret to share nonces.
    """

    def __init__(self, *, lifetime: float = 300.0, secret: bytes | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if lifetime <= 0:
            raise ConfigurationError(f"DPoPNonces lifetime: expected > 0, found {lifetime}")
        self.lifetime = lifetime
        """Seconds one nonce window lasts."""
        self._secret = secret if secret is not None else os.urandom(32)
        self.clock = clock
        """Wall-clock seconds."""

    def _for(self, window: int) -> str:
        mac = hmac.new(self._secret, str(window).encode("ascii"), hashlib.sha256).digest()
        return f"{window}.{b64url_encode(mac[:18])}"

    def current(self) -> str:
        """The nonce to hand out now (``DPoP-Nonce`` header)."""
        return self._for(int(self.clock() // self.lifetime))

    def valid(self, nonce: object) -> bool:
        """Whether ``nonce`` is this window's or the previous one's."""
        if type(nonce) is not str:
            return False
        window = int(self.clock() // self.lifetime)
        return any(hmac.compare_digest(nonce, self._for(w)) for w in (window, window - 1))
