"""Freshness, refresh-ahead and retry timing as pure arithmetic (no clock is read here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._errors import ConfigurationError
from ._token import Token


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits U(0, min(cap, base * 2**n))."""

    base: float = 0.25
    """First ceiling in seconds. 0.25 s."""
    cap: float = 4.0
    """Largest ceiling in seconds. 4 s."""

    def delay(self, attempt: int, unit: float, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based); ``unit`` is a U(0, 1) draw.

        A server's ``Retry-After`` is a floor: never retry earlier than it asked.
        """
        ceiling = min(self.cap, self.base * float(2 ** min(attempt, 30)))
        wait = ceiling * max(0.0, min(1.0, unit))
        return max(wait, retry_after) if retry_after is not None else wait


DEFAULT_REFRESH_BACKOFF = Backoff(base=1.0, cap=30.0)
"""The background refresh's waits between failing attempts: base 1 s, cap 30 s."""


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """When a cached token is refreshed in the background and when it stops being served.

    The refresh window opens at ``refresh_ratio`` of the lifetime and is ``jitter`` wide
    (80 % to 85 % by default): never earlier than ``refresh_ratio``, so a run of T seconds
    costs at most ``floor(T / (refresh_ratio * lifetime)) + 1`` token requests, and spread
    over the window so replicas that started together do not refresh in the same second
    (a window under a second wide, for tokens shorter than 20 s, spreads them less;
    ``jitter=0`` puts them in step).

    The margin keeps a token from being handed out close to its expiry. It is capped at half
    the lifetime, and so that it never cuts into the refresh window: the token stays served
    a lead (2 % of the lifetime, at least 1 s but at most 5 % of it) past the window's end,
    time for the background fetch to finish without making anyone wait. A 300 s token is
    refreshed between 240 s and 255 s and served until 261 s (margin 39 s); a one-hour token
    between 48 and 51 minutes and served until 59 minutes (margin 60 s); a 10 s token
    between 8 s and 8.5 s and served until 9 s.
    """

    margin: float = 60.0
    """Seconds before expiry a token stops being served (capped as above). 60 s."""
    refresh_ratio: float = 0.8
    """Share of the lifetime at which the refresh window opens. 0.8."""
    jitter: float = 0.05
    """Width of the refresh window, as a share of the lifetime. 0.05."""
    failure_ttl: float = 5.0
    """Seconds a permanent failure (``invalid_client`` ...) is answered from memory. 5 s."""
    unauthorized_cooldown: float = 30.0
    """After a resource server's 401 caused a token refresh, seconds during which no other
    401 for the same cache key does (see :mod:`svcauth.caller._unauthorized`). 30 s."""
    unauthorized_fresh: float = 5.0
    """A token whose request was sent less than this many seconds ago is *fresh*: a 401
    refusing it never causes a refresh. 5 s."""
    refresh_backoff: Backoff = DEFAULT_REFRESH_BACKOFF
    """Waits between the attempts of one background refresh that keeps failing (full
    jitter: attempt n waits U(0, min(30, 1 * 2**n)) s). The loop stops once the next wait
    would end past the point where the cached token stops being served: callers then fetch
    for themselves. Base 1 s, cap 30 s."""

    def __post_init__(self) -> None:
        for name in ("margin", "failure_ttl", "unauthorized_cooldown", "unauthorized_fresh"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{name}: expected a finite number of seconds >= 0, "
                                         f"found {value!r}")
        ratio, jitter = self.refresh_ratio, self.jitter
        if not (math.isfinite(ratio) and 0 < ratio <= 1):
            raise ConfigurationError(f"refresh_ratio: expected a share of the lifetime in "
                                     f"(0, 1], found {ratio!r}")
        if not (math.isfinite(jitter) and jitter >= 0 and ratio + jitter <= 1):
            raise ConfigurationError(
                f"jitter: expected >= 0 with refresh_ratio + jitter <= 1, found "
                f"{ratio:g} + {jitter:g} = {ratio + jitter:g}; lower jitter or refresh_ratio")

    @staticmethod
    def _lead(life: float) -> float:
        return min(max(1.0, 0.02 * life), 0.05 * life)

    def fresh_until(self, token: Token) -> float:
        """The last instant (on the token's clock) the token is handed to callers."""
        life = max(token.lifetime, 0.0)
        room = max(0.0, life * (1.0 - self.refresh_ratio - self.jitter) - self._lead(life))
        return token.expires_at - min(self.margin, life / 2, room)

    def refresh_at(self, token: Token, unit: float) -> float:
        """When the background refresh starts; ``unit`` in [0, 1] picks the point in the window.

        A window that would end later than a lead before :meth:`fresh_until` (only when
        ``refresh_ratio + jitter`` is close to 1) is squeezed to end there.
        """
        unit = max(0.0, min(1.0, unit))
        life = max(token.lifetime, 0.0)
        fresh = self.fresh_until(token)
        latest = fresh - max(0.0, min(self._lead(life), (fresh - token.issued_at) / 2))
        hi = min(token.issued_at + life * (self.refresh_ratio + self.jitter), latest)
        lo = min(token.issued_at + life * self.refresh_ratio, hi)
        return lo + (hi - lo) * unit
