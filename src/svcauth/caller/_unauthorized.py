"""After a resource server's 401: is a retry with another token warranted? (pure)

The rule that keeps a caller from storming its identity provider. A 401 leads to a refresh
(drop the cached token, fetch one new token, resend once) only when all three hold:

- the refused token is still the one cached for its cache key (otherwise a newer token is
  already there, and the request is resent with it: no token request);
- the refused token is not *fresh*: its token request was sent at least ``fresh`` seconds
  ago (5 s by default). A token that fresh from the identity provider is what a refresh
  would bring again, so a receiver that refuses it will refuse the next one too;
- no 401 led to a refresh for this cache key in the last ``cooldown`` seconds (30 s).

Otherwise the 401 goes to the application as it came. A receiver whose keys rotated (the
old token refused once, a fresh one accepted) gets exactly one refresh and a resent request;
a receiver that refuses everything costs at most one token request per cooldown on top of
the normal renewals.
"""

from __future__ import annotations

from dataclasses import dataclass

REFRESH = "refresh"
"""Drop the refused token; the resent request fetches a new one."""
NEWER = "newer"
"""The refused token is no longer cached; resend with the cached one (no token request)."""
FRESH = "fresh"
"""The refused token came from the identity provider moments ago: no retry."""
COOLDOWN = "cooldown"
"""A 401 already caused a refresh for this cache key within the cooldown: no retry."""
NOTHING_CACHED = "nothing_cached"
"""The source never cached a token (it did not hand out the refused one): no retry."""


@dataclass(frozen=True, slots=True)
class UnauthorizedVerdict:
    """What to do about a 401: ``retry`` or not, ``refresh`` the cache or not, and why."""

    reason: str
    """One of ``refresh``, ``newer``, ``fresh``, ``cooldown``, ``nothing_cached``."""
    wait: float = 0.0
    """For ``cooldown``: seconds until a 401 may cause a refresh again."""

    @property
    def retry(self) -> bool:
        """Whether the request should be sent once more (with ``token()``)."""
        return self.reason in (REFRESH, NEWER)

    @property
    def refresh(self) -> bool:
        """Whether the cached token must be dropped and the cooldown started."""
        return self.reason == REFRESH

    def explain(self) -> str:
        """A sentence for the log line of a 401 that is not retried."""
        if self.reason == FRESH:
            return ("the refused token was fresh from the identity provider, so a new one "
                    "would be refused too")
        if self.reason == COOLDOWN:
            return (f"a 401 already caused a token refresh for this client; the next "
                    f"refresh may happen in {self.wait:.0f} s")
        if self.reason == NOTHING_CACHED:
            return "the token source holds no cached token to replace"
        return "retried"


def unauthorized_verdict(*, refused: str, cached: str, issued_at: float | None,
                         last_refresh: float, now: float, cooldown: float,
                         fresh: float) -> UnauthorizedVerdict:
    """The decision for a 401 that refused ``refused``, all times on the source's clock.

    ``cached`` is the token cached for the key now (``""`` when none: the resent request
    then joins or starts the one fetch); ``issued_at`` is when its token request was sent;
    ``last_refresh`` is when a 401 last caused a refresh for this key (``-inf``: never).
    """
    if refused != cached:
        return UnauthorizedVerdict(NEWER)
    if issued_at is not None and now - issued_at < fresh:
        return UnauthorizedVerdict(FRESH)
    if now - last_refresh < cooldown:
        return UnauthorizedVerdict(COOLDOWN, wait=cooldown - (now - last_refresh))
    return UnauthorizedVerdict(REFRESH)
