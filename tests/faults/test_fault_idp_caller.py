"""Identity provider down, slow (8 s), answering 500 or 429 for longer than a token lives:
the caller serves its valid token meanwhile, then fails fast with a clear error code, and
gets a new token as soon as the provider is back.

The caller runs against a real DevIdP (short-lifetime realm copy, 60 s tokens) on an
injected clock: real monotonic time plus an offset the test moves, so the token's life
passes at once while retries and the provider's delays stay real. The caller is configured
with a 5 s margin and refresh at half the lifetime, so the window in which the old token is
still handed out while refreshes fail is 20 s wide. "Fast" means: the error comes from the
fetch deadline (5 s) after a bounded number of attempts the IdP counted. Each attempt may take
2 s: the provider shares this process, and on a loaded machine a healthy answer can take
longer than half a second (which would be counted as a second request).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fault_kit import TOKEN_LIFETIME

from svcauth import TokenEndpointError, TokenError, TokenTransportError
from svcauth.caller import CachingTokenSource, ClientConfig, ClientCredentialsSource, ClientSecretBasic
from svcauth.devidp import DevIdP

DEADLINE = 5.0
TIMEOUT = 2.0


def _down(idp: DevIdP) -> None:
    idp.stop()


def _slow(idp: DevIdP) -> None:
    idp.set_fault("token", delay=8.0)  # longer than the deadline


def _error_500(idp: DevIdP) -> None:
    idp.set_fault("token", status=500)


def _error_429(idp: DevIdP) -> None:
    idp.set_fault("token", status=429, retry_after=1)


FAULTS: list[tuple[str, Callable[[DevIdP], None], type[TokenError], str]] = [
    ("down", _down, TokenTransportError, "token_endpoint_unreachable"),
    ("slow_8s", _slow, TokenTransportError, "token_endpoint_unreachable"),
    ("http_500", _error_500, TokenEndpointError, "server_error"),
    ("http_429", _error_429, TokenEndpointError, "temporarily_unavailable"),
]


class OffsetClock:
    """``time.monotonic()`` plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def set(self, when: float) -> None:
        """Jump so that now is ``when``."""
        self.offset += when - self()

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` ahead."""
        self.offset += seconds


class Caller:
    """shop-api's cached token source on an :class:`OffsetClock`; background retries wait
    for ``release`` (so they never run after the test)."""

    def __init__(self, idp: DevIdP, secret: str) -> None:
        self.clock = OffsetClock()
        self.release = threading.Event()
        config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(secret),
                              token_endpoint=idp.token_endpoint, timeout=TIMEOUT,
                              deadline=DEADLINE, margin=5.0, refresh_ratio=0.5)
        self.source = ClientCredentialsSource(config, clock=self.clock)
        self.tokens = CachingTokenSource(self.source, sleep=lambda s: self.release.wait(s))


@pytest.fixture
def caller(idp: DevIdP, shop_secret: str) -> Iterator[Caller]:
    c = Caller(idp, shop_secret)
    yield c
    c.clock.advance(10 * TOKEN_LIFETIME)  # any background refresh loop ends now
    c.release.set()
    c.source.close()


def _shop_requests(idp: DevIdP) -> int:
    return int(idp.stats()["token_requests"].get("shop-api", {}).get("client_credentials", 0))


@pytest.mark.parametrize(("name", "fault", "error", "code"), FAULTS, ids=[f[0] for f in FAULTS])
def test_caller_serves_its_token_through_the_fault_then_fails_fast_with_a_clear_code(
        idp: DevIdP, caller: Caller, name: str, fault: Callable[[DevIdP], None],
        error: type[TokenError], code: str) -> None:
    first = caller.tokens.token()
    assert _shop_requests(idp) == 1
    token = caller.tokens.cached()
    assert token is not None and token.expires_in == TOKEN_LIFETIME  # the provider's integer
    assert abs(token.lifetime - TOKEN_LIFETIME) < 1e-6  # expires_at - issued_at: floats
    fault(idp)

    # Inside the token's life, past the refresh point: the valid token is served at once.
    caller.clock.set(token.issued_at + TOKEN_LIFETIME * 0.6)
    assert caller.tokens.token() == first
    assert caller.tokens.token() == first

    # Past the point a token is no longer handed out: a clear error, within the deadline.
    caller.clock.set(token.expires_at - 4)  # inside the 5 s margin
    assert caller.tokens.policy.fresh_until(token) < caller.clock()
    with pytest.raises(error) as caught:
        caller.tokens.token()
    assert caught.value.code == code
    assert first[-20:] not in str(caught.value)
    faults = idp.stats()["faults_served"].get("token", 0) if name != "down" else 0
    assert faults <= 2 * (DEADLINE / 0.25 + 2)  # bounded retries, no hammering

    # Recovery: the next call gets a new token.
    if name == "down":
        idp.start()
    idp.clear_faults()
    fresh = caller.tokens.token()
    assert fresh != first
    assert caller.tokens.token() == fresh
