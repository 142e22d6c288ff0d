"""Freshness, refresh-ahead and retry timing as pure arithmetic (no clock is read here)."""

from __future__ import annotations

from dataclasses import dataclass

from ._token import Token


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """When a cached token stops being served and when its background refresh starts."""

    margin: float = 60.0
    """A token is served until ``expires_at - margin``; capped at half its lifetime. 60 s."""
    refresh_ratio: float = 0.8
    """Share of the lifetime after which one background refresh starts. 0.8."""
    jitter: float = 0.05
    """Refresh point spread ``refresh_ratio ± jitter`` so replicas do not refresh together. 0.05."""
    failure_ttl: float = 5.0
    """Seconds a permanent failure (``invalid_client`` ...) is answered from memory. 5 s."""

    def fresh_until(self, token: Token) -> float:
        """The last instant (on the token's clock) the token is handed to callers."""
        return token.expires_at - min(self.margin, max(token.lifetime, 0.0) / 2)

    def refresh_at(self, token: Token, spread: float) -> float:
        """When refresh-ahead starts; ``spread`` in [-1, 1] picks the point in the jitter band.

        The band ``refresh_ratio ± jitter`` of the lifetime is squeezed to end a lead
        (2 % of the lifetime, at least 1 s) before :meth:`fresh_until`, so the background
        fetch always has time to finish before callers would have to wait.
        """
        spread = max(-1.0, min(1.0, spread))
        life = max(token.lifetime, 0.0)
        fresh = self.fresh_until(token)
        latest = fresh - min(max(1.0, 0.02 * life), (fresh - token.issued_at) / 2)
        hi = min(token.issued_at + life * (self.refresh_ratio + self.jitter), latest)
        lo = min(token.issued_at + life * max(0.0, self.refresh_ratio - self.jitter), hi)
        return lo + (hi - lo) * (spread + 1.0) / 2.0


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
