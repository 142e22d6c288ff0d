"""When a broker connection looks for a new token, and whether it sends one: pure
arithmetic and state, no clock read, no socket.

A connection authenticated by an access token must send a new one (AMQP
``connection.update-secret``) before the old one expires. The new token comes from the
same :class:`~svcauth.caller.CachingTokenSource` HTTP callers use: the connection never
asks the token endpoint itself, it asks the cache. Until the cache's refresh window opens
(``refresh_ratio`` of the lifetime) there is nothing to look for; from then on the
connection asks every ``step``: its first ask in the window starts the cache's background
refresh, a later one finds the new token, which is then sent. The cache keeps serving the
old token a lead (2 % of the lifetime, at least 1 s, at most 5 % of it) past its refresh
window; a step of a quarter of that lead (within ``[min_step, max_step]``) leaves half the
lead for the fetch itself. A run of T seconds thus costs the cache's own bound of token requests,
``floor(T / (refresh_ratio * lifetime)) + 1``, whoever else shares the cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._errors import ConfigurationError
from ..caller._policy import RefreshPolicy
from ..caller._token import Token


@dataclass(frozen=True, slots=True)
class RenewalPolicy:
    """How often a connection looks at its token source once a renewal is due."""

    min_step: float = 0.02
    """Shortest wait between two looks, seconds. 0.02 s."""
    max_step: float = 5.0
    """Longest wait between two looks once the refresh window is open, seconds. 5 s."""
    retry_step: float = 1.0
    """Wait after the source failed (the identity provider is down), seconds. 1 s."""

    def __post_init__(self) -> None:
        for name in ("min_step", "max_step", "retry_step"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name}: expected a finite number of seconds > 0, "
                                         f"found {value!r}")
        if self.min_step > self.max_step:
            raise ConfigurationError(f"min_step: expected <= max_step ({self.max_step:g}), "
                                     f"found {self.min_step:g}")


class Renewal:
    """The token a connection holds and what to do at each look.

    >>> r = Renewal(RefreshPolicy())
    >>> r.opened("tok-1", token)            # doctest: +SKIP
    >>> r.delay(now)                         # seconds until the next look  # doctest: +SKIP
    >>> r.look("tok-2")         # "tok-2": send it with update-secret  # doctest: +SKIP
    """

    def __init__(self, refresh: RefreshPolicy, policy: RenewalPolicy | None = None) -> None:
        self.refresh = refresh
        self.policy = policy or RenewalPolicy()
        self.held = ""
        """The access token the connection authenticated with last."""
        self.held_token: Token | None = None
        """Its :class:`Token` (times on the source's clock), when the cache told."""
        self.renewals = 0
        """``update-secret`` calls that succeeded."""
        self.failures = 0
        """Looks at which the source raised (identity provider unreachable ...)."""
        self._failing = False

    def opened(self, access_token: str, token: Token | None) -> None:
        """A connection was (re)opened with ``access_token``."""
        self.held, self.held_token, self._failing = access_token, token, False

    def step(self) -> float:
        """Seconds between looks inside the refresh window."""
        life = max(self.held_token.lifetime, 0.0) if self.held_token is not None else 0.0
        # The cache serves the old token a lead past its refresh window (RefreshPolicy): the
        # look that starts the refresh and the one that finds the new token fit in it twice.
        lead = min(max(1.0, 0.02 * life), 0.05 * life)
        p = self.policy
        return min(max(lead / 4, p.min_step), p.max_step)

    def delay(self, now: float) -> float:
        """Seconds from ``now`` until the next look."""
        if self._failing:
            return self.policy.retry_step
        token = self.held_token
        if token is None:
            return self.step()
        opens = token.issued_at + self.refresh.refresh_ratio * token.lifetime
        return opens - now if now < opens else self.step()

    def look(self, current: str) -> str | None:
        """The source handed out ``current``: the secret to send, or None to keep waiting."""
        self._failing = False
        if current == self.held:
            return None
        return current

    def renewed(self, access_token: str, token: Token | None) -> None:
        """``update-secret`` with ``access_token`` succeeded."""
        self.held, self.held_token = access_token, token
        self.renewals += 1

    def failed(self) -> None:
        """The source raised at a look: look again after ``retry_step``."""
        self.failures += 1
        self._failing = True

    def expired(self, now: float) -> bool:
        """True once the held token is past its expiry (the broker refuses every operation)."""
        return self.held_token is not None and now >= self.held_token.expires_at
