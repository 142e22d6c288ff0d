"""What both shells share: the broker settings and the binding of one token source to the
connections a shell opens (token in, renewal decisions and refusals out). No socket here;
the only calls out are to the token source."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._errors import SvcAuthError, TokenEndpointError, TokenTransportError
from ..caller._policy import RefreshPolicy
from ..caller._token import Token
from ._refusal import BrokerAudience, login_refusal, operation_refusal, unverified_claims
from ._renewal import Renewal, RenewalPolicy

RETRYABLE_CODES = frozenset({"token_expired", "token_endpoint_unreachable"})
"""Refusals a new attempt can cure: an expired token (a fresh one is had), an identity
provider that is down for now."""


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How to reach and authenticate to one broker."""

    virtual_host: str = "/"
    """AMQP virtual host. ``/``."""
    audience: BrokerAudience = field(default_factory=BrokerAudience)
    """How the broker reads tokens (resource server id, additional scopes claim)."""
    username: str | None = None
    """AMQP user name. RabbitMQ's OAuth 2.0 backend ignores it (the user is the token's
    ``client_id``, else ``sub``); None sends the token's ``client_id`` so broker logs match."""
    heartbeat: int = 30
    """AMQP heartbeat, seconds (a dead broker is noticed within about twice this). 30."""
    renewal: RenewalPolicy = field(default_factory=RenewalPolicy)
    """How often a due renewal looks at the token source."""


class TokenBinding:
    """One token source bound to a shell's connections.

    ``source`` is a :class:`~svcauth.caller.CachingTokenSource` (anything with ``token``,
    ``atoken`` and ``invalidate``; ``cached``, ``clock`` and ``policy`` when present give
    exact renewal times, otherwise they are read from the token's ``iat``/``exp``).
    """

    def __init__(self, source: Any, settings: BrokerSettings, *,
                 wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.source = source
        self.settings = settings
        self.clock: Callable[[], float] = getattr(source, "clock", time.monotonic)
        self.wall_clock = wall_clock
        self.rng = rng or random.Random()  # noqa: S311 - backoff jitter, not crypto
        policy = getattr(source, "policy", None)
        self.renewal = Renewal(policy if isinstance(policy, RefreshPolicy) else RefreshPolicy(),
                               settings.renewal)

    # -- tokens ---------------------------------------------------------------------------

    def token(self) -> str:
        """A token for a new connection (blocking)."""
        result: str = self.source.token()
        return result

    async def atoken(self) -> str:
        """A token for a new connection (asyncio)."""
        result: str = await self.source.atoken()
        return result

    def token_info(self, access_token: str) -> Token | None:
        """The :class:`Token` behind ``access_token``: the cache's, else one built from the
        token's ``iat``/``exp`` on :attr:`clock`; None when neither tells."""
        cached = getattr(self.source, "cached", None)
        token = cached() if cached is not None else None
        if isinstance(token, Token) and token.access_token == access_token:
            return token
        claims = unverified_claims(access_token)
        iat, exp = claims.get("iat"), claims.get("exp")
        if not (isinstance(iat, int | float) and isinstance(exp, int | float) and exp > iat):
            return None
        issued = self.clock() - (self.wall_clock() - iat)
        return Token(access_token=access_token, token_type="Bearer", expires_in=exp - iat,
                     expires_at=issued + (exp - iat), scope=None, issued_at=issued)

    def username(self, access_token: str) -> str:
        """The AMQP user name to send with ``access_token``."""
        if self.settings.username is not None:
            return self.settings.username
        client = unverified_claims(access_token).get("client_id")
        return client if isinstance(client, str) and client else "svcauth"

    # -- renewal --------------------------------------------------------------------------

    def opened(self, access_token: str) -> None:
        """A connection opened with ``access_token``."""
        self.renewal.opened(access_token, self.token_info(access_token))

    def delay(self) -> float:
        """Seconds until the next look at the source."""
        return self.renewal.delay(self.clock())

    def _looked(self, current: str) -> str | None:
        return self.renewal.look(current)

    def look(self) -> str | None:
        """Ask the source (blocking): the secret to send now, or None."""
        try:
            current = self.source.token()
        except SvcAuthError:
            self.renewal.failed()
            raise
        return self._looked(current)

    async def alook(self) -> str | None:
        """Ask the source (asyncio): the secret to send now, or None."""
        try:
            current = await self.source.atoken()
        except SvcAuthError:
            self.renewal.failed()
            raise
        return self._looked(current)

    def renewed(self, secret: str) -> None:
        """``update-secret`` with ``secret`` succeeded."""
        self.renewal.renewed(secret, self.token_info(secret))

    # -- refusals -------------------------------------------------------------------------

    def login_refused(self, access_token: str, reply_code: int) -> SvcAuthError:
        """The error for a login refused with ``reply_code``; an expired token is dropped
        from the cache so that the next attempt gets a fresh one."""
        err = login_refusal(unverified_claims(access_token), self.settings.audience,
                            self.wall_clock(), reply_code)
        if err.code == "token_expired":
            self.source.invalidate(access_token)
        return err

    def operation_refused(self, reply_code: int, reply_text: str,
                          operation: str) -> SvcAuthError | None:
        """The error for a channel closed with ``reply_code`` on ``operation``."""
        return operation_refusal(reply_code, reply_text, unverified_claims(self.renewal.held),
                                 self.settings.audience, operation, self.wall_clock())

    @staticmethod
    def retryable(err: SvcAuthError) -> bool:
        """True when a new attempt may succeed (see :data:`RETRYABLE_CODES`)."""
        if isinstance(err, TokenEndpointError):
            return not err.permanent
        return isinstance(err, TokenTransportError) or err.code in RETRYABLE_CODES
