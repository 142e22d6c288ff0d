"""Shared helpers of the fault suite: the soak switch, an injectable clock, the realm copy's
token lifetime."""

from __future__ import annotations

import os
import threading

SOAK = os.environ.get("SVCAUTH_SOAK", "").lower() in ("1", "true", "yes")
"""True under ``make soak``."""


def soak(short: int, long: int) -> int:
    """``long`` under ``make soak``, else ``short``."""
    return long if SOAK else short


class FakeClock:
    """A clock tests move by hand; thread-safe."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        """Move time to ``when``."""
        with self._lock:
            self._now = when


TOKEN_LIFETIME = 60
"""shop-api's token lifetime in the short-lifetime realm copy (seconds)."""
