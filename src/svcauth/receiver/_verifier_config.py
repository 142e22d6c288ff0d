"""``VerifierConfig``: a :class:`~svcauth.receiver.Verifier`'s settings as one frozen value,
the one place their defaults are documented.

``Verifier(...)`` keeps its keywords (same names, same defaults: a test holds the two
together); ``VerifierConfig(...).build(key_set)`` makes the same verifier from a value that
can be read from a file, compared and passed around.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..providers import FROM_PROFILE, KEYCLOAK, ProviderProfile
from ._cache import VerifiedTokenCache
from ._keyset import KeySet
from ._verifier import Verifier

__all__ = ["VerifierConfig"]

_DEFAULT_CACHE: Any = object()


@dataclass(frozen=True)
class VerifierConfig:
    """What a verifier accepts. Checked when built (``Verifier`` refuses bad values)."""

    issuer: str
    """The exact ``iss`` accepted (the provider's issuer URL)."""
    audience: str | tuple[str, ...]
    """The receiver's audience(s): one of them must be in ``aud``."""
    algorithms: tuple[str, ...] = ("RS256",)
    """The JWS algorithm allow-list; ``none`` and HMAC are refused."""
    leeway: float = 30.0
    """Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat`` (0..300)."""
    max_token_bytes: int = 8192
    """Longer tokens are refused before any decoding (>= 64)."""
    token_types: tuple[str, ...] | None = FROM_PROFILE
    """Accepted values of a ``typ`` claim; ``None`` skips the check; by default the
    profile's (Keycloak: ``Bearer``; RFC 9068: not checked)."""
    profile: ProviderProfile = KEYCLOAK
    """The provider's token conventions (:mod:`svcauth.providers`): ``typ`` rules."""

    def build(self, key_set: KeySet, *, clock: Callable[[], float] = time.time,
              cache: VerifiedTokenCache | None = _DEFAULT_CACHE) -> Verifier:
        """The :class:`Verifier` with these settings, keys from ``key_set``."""
        options: dict[str, Any] = {} if cache is _DEFAULT_CACHE else {"cache": cache}
        return Verifier(issuer=self.issuer, audience=self.audience, key_set=key_set,
                        algorithms=self.algorithms, leeway=self.leeway,
                        max_token_bytes=self.max_token_bytes, token_types=self.token_types,
                        profile=self.profile, clock=clock, **options)
