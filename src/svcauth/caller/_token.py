"""The access token a token endpoint hands out, and the one way svcauth prints a token."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def redact(token: str) -> str:
    """A token as it may appear in logs: ``eyJ...`` plus its last 6 characters at most."""
    if len(token) < 16:
        return "eyJ..."
    return f"eyJ...{token[-6:]}"


@dataclass(frozen=True, slots=True)
class Token:
    """An access token from a client-credentials grant.

    Times are on the clock the fetching source was given (``time.monotonic`` by default),
    so they compare with that clock only, never with wall-clock time.
    """

    access_token: str = field(repr=False)
    """The bearer token itself; ``repr()`` shows only ``eyJ...`` and its last 6 characters."""
    token_type: str
    """``Bearer``, or ``DPoP`` for a token bound to the source's DPoP key (RFC 9449)."""
    expires_in: float | None
    """Lifetime in seconds as the endpoint stated it, ``None`` when it did not say."""
    expires_at: float
    """``issued_at + expires_in`` on the injected clock (``issued_at + 60`` when unknown)."""
    scope: str | None
    """The granted scope when the endpoint returned one."""
    issued_at: float
    """When the request that obtained the token was sent, on the injected clock."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The whole JSON response (holds the token: never log it)."""

    @property
    def lifetime(self) -> float:
        """``expires_at - issued_at`` in seconds."""
        return self.expires_at - self.issued_at

    def __repr__(self) -> str:
        return (
            f"Token(access_token={redact(self.access_token)!r}, token_type={self.token_type!r}, "
            f"expires_in={self.expires_in!r}, expires_at={self.expires_at!r}, "
            f"scope={self.scope!r}, issued_at={self.issued_at!r})"
        )

    __str__ = __repr__
