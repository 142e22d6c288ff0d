"""Refresh-ahead: callers keep the valid token while one background refresh runs; long runs
stay within the request budget; refresh failures never take the valid token away."""

from __future__ import annotations

import asyncio
import random
import threading

import httpx
import pytest

from svcauth import TokenEndpointError
from svcauth.caller import CachingTokenSource, Token
from svcauth.caller._policy import Backoff

from .fakes import FakeClock, FakeTokenEndpoint, make_source, refreshing, token_value, wait_until


class IssueLog:
    """Remembers when (fake clock) each token was issued, to check what callers receive."""

    def __init__(self, endpoint: FakeTokenEndpoint, clock: FakeClock) -> None:
        self.issued: dict[str, float] = {}
        self._endpoint, self._clock = endpoint, clock

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sent_at = self._clock.now
        response = self._endpoint(request)
        if response.status_code == 200:
            self.issued[response.json()["access_token"]] = sent_at
        return response


class FixedDraw(random.Random):
    """A random source whose every draw is ``value``: the window's edges on demand."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.anyio
@pytest.mark.parametrize("rng", [FixedDraw(0.0), FixedDraw(0.999999), random.Random(1),
                                 random.Random(2)], ids=["earliest", "latest", "seed1", "seed2"])
@pytest.mark.parametrize(("config", "budget"), [
    # Defaults: refresh between 240 and 255 s of a 300 s token, never earlier, so 1,200 s
    # hold the first request and 4 refreshes; the fifth token is still fresh at the end.
    ({}, 5),
    ({"refresh_ratio": 0.85, "jitter": 0.05, "margin": 30.0}, 5),   # 255..270 s
    ({"refresh_ratio": 0.5, "jitter": 0.0}, 8),                     # every 150 s exactly
])
async def test_10000_calls_over_20_minutes_stay_within_budget_and_never_see_an_expired_token(
    config: dict[str, float], budget: int, rng: random.Random,
) -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=300), FakeClock(start=0.0)
    log = IssueLog(endpoint, clock)

    async def ahandler(request: httpx.Request) -> httpx.Response:
        return log(request)

    src = CachingTokenSource(make_source(endpoint, clock, async_handler=ahandler, **config),
                             rng=rng)
    served_until = src.policy.fresh_until(Token("eyJx", "Bearer", 300, 300.0, None, 0.0))
    assert 240 <= served_until < 300
    for i in range(10_000):
        clock.now = i * 0.12  # 1,200 s in all
        token = await src.atoken()
        assert clock.now < log.issued[token] + served_until, "served a token past its margin"
        await asyncio.sleep(0)  # let a background refresh make progress
    assert endpoint.count == budget


def test_sync_callers_get_the_old_token_without_waiting_during_a_slow_refresh() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=300), FakeClock(start=0.0)
    src = CachingTokenSource(make_source(endpoint, clock))
    first = src.token()
    endpoint.gate = threading.Event()  # the next fetch hangs until released: a "2 s" fetch
    clock.now = 256.0  # past any refresh point (240..255), still served (until 261)
    served: list[str] = []

    def callers() -> None:
        for _ in range(200):  # 2 simulated seconds of calls while the refresh hangs
            served.append(src.token())
            clock.advance(0.005)

    worker = threading.Thread(target=callers)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "a caller waited for the refresh"
    assert served == [first] * 200
    wait_until(lambda: endpoint.count == 2)  # the background refresh reached the provider
    for _ in range(100):  # more calls while it hangs start no second refresh
        assert src.token() == first
    assert endpoint.count == 2
    endpoint.gate.set()
    wait_until(lambda: src.token() == token_value(2))
    assert endpoint.count == 2


@pytest.mark.anyio
async def test_async_callers_get_the_old_token_without_waiting_during_a_slow_refresh() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=300), FakeClock(start=0.0)
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        if endpoint.count >= 1:
            await release.wait()
        return endpoint(request)

    src = CachingTokenSource(make_source(endpoint, clock, async_handler=slow))
    first = await src.atoken()
    clock.now = 256.0
    for _ in range(200):
        assert await asyncio.wait_for(src.atoken(), 1) == first
        await asyncio.sleep(0)
        clock.advance(0.005)
    release.set()
    for _ in range(1000):
        if await src.atoken() != first:
            break
        await asyncio.sleep(0.001)
    assert await src.atoken() == token_value(2)
    assert endpoint.count == 2


def test_a_failing_refresh_keeps_serving_the_valid_token_then_recovers() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=300), FakeClock(start=0.0)
    waits: list[float] = []

    def pause(seconds: float) -> None:  # the refresh loop's backoff, on the fake clock
        waits.append(seconds)
        clock.advance(seconds)

    # One attempt per fetch: the source's own first retry wait (0.125 s) exceeds its deadline.
    source = make_source(endpoint, clock, deadline=0.001, sleep=lambda s: None, rng=FixedDraw(0.5))
    src = CachingTokenSource(source, sleep=pause, rng=FixedDraw(0.5))
    first = src.token()
    endpoint.script = [httpx.Response(503) for _ in range(100_000)]
    clock.now = 256.0  # past every refresh point, still served (until 261)
    assert src.token() == first  # starts the one background refresh
    wait_until(lambda: not refreshing())
    # Backoff ceilings 1, 2, 4, 8 s at half each: 0.5, 1, 2; the next (4 s) would end past
    # 261 s, when callers fetch for themselves, so the loop stops there.
    assert waits == [0.5, 1.0, 2.0]
    assert endpoint.count == 1 + 4
    assert clock.now == 259.5
    assert src.token() == first  # the valid token was served all along and still is
    endpoint.script = []  # the IdP recovers; the next call starts a new refresh
    wait_until(lambda: not refreshing() and src.token() != first)
    assert src.token() == token_value(endpoint.count)
    assert src.token().startswith("eyJ")


def test_the_background_refresh_backoff_is_the_configured_one() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=300), FakeClock(start=0.0)
    waits: list[float] = []

    def pause(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    source = make_source(endpoint, clock, deadline=0.001, sleep=lambda s: None,
                         rng=FixedDraw(0.5), refresh_backoff=Backoff(base=0.5, cap=1.0))
    src = CachingTokenSource(source, sleep=pause, rng=FixedDraw(0.5))
    assert src.policy.refresh_backoff == Backoff(base=0.5, cap=1.0)
    first = src.token()
    endpoint.script = [httpx.Response(503) for _ in range(100_000)]
    clock.now = 256.0  # past every refresh point, served until 261
    assert src.token() == first
    wait_until(lambda: not refreshing())
    # Ceilings 0.5, 1, 1, ... at half each; the loop stops before a wait ending past 261 s.
    assert waits == [0.25] + [0.5] * 9
    assert endpoint.count == 1 + 11
    assert clock.now == 260.75


def test_once_past_the_margin_callers_wait_for_a_new_token() -> None:
    endpoint, clock = FakeTokenEndpoint(expires_in=300), FakeClock(start=0.0)
    src = CachingTokenSource(make_source(endpoint, clock))
    assert src.token() == token_value(1)
    clock.now = 260.9
    assert src.token() == token_value(1)  # no call fell in the refresh window: still served
    clock.now = 261.0
    assert src.token() == token_value(2)
    assert endpoint.count == 2


def test_permanent_failure_is_remembered_briefly() -> None:
    endpoint, clock = FakeTokenEndpoint(secrets={"another"}), FakeClock(start=0.0)
    src = CachingTokenSource(make_source(endpoint, clock))
    for _ in range(20):
        with pytest.raises(TokenEndpointError) as info:
            src.token()
        assert info.value.code == "invalid_client"
    assert endpoint.count == 1
    clock.advance(5.1)
    with pytest.raises(TokenEndpointError):
        src.token()
    assert endpoint.count == 2


@pytest.mark.anyio
async def test_permanent_failure_is_remembered_briefly_async() -> None:
    endpoint, clock = FakeTokenEndpoint(secrets={"another"}), FakeClock(start=0.0)
    src = CachingTokenSource(make_source(endpoint, clock, failure_ttl=30.0))
    for _ in range(20):
        with pytest.raises(TokenEndpointError):
            await src.atoken()
    clock.advance(29.0)
    with pytest.raises(TokenEndpointError):
        await src.atoken()
    assert endpoint.count == 1
    clock.advance(1.1)
    with pytest.raises(TokenEndpointError):
        await src.atoken()
    assert endpoint.count == 2


def test_invalidate_drops_only_the_named_token() -> None:
    endpoint, clock = FakeTokenEndpoint(), FakeClock()
    src = CachingTokenSource(make_source(endpoint, clock))
    first = src.token()
    clock.advance(10)  # past the 5 s in which a token counts as fresh
    assert src.invalidate("eyJsomething-else") is True  # not the cached one: resend with it
    assert src.token() == first
    assert src.invalidate(first) is True
    assert src.token() == token_value(2)
    assert endpoint.count == 2


def test_replicas_that_start_together_refresh_spread_over_the_window() -> None:
    """Forty replicas fetch at the same instant: their refreshes spread over 240..255 s."""
    clock = FakeClock(start=0.0)
    refreshed_at: list[float] = []
    for seed in range(40):
        endpoint = FakeTokenEndpoint(expires_in=300)
        src = CachingTokenSource(make_source(endpoint, clock), rng=random.Random(seed),
                                 sleep=lambda s: None)
        clock.now = 0.0
        src.token()
        while endpoint.count == 1:  # step a second at a time until this replica refreshes
            clock.advance(1.0)
            src.token()
            wait_until(lambda: not refreshing())
            assert clock.now < 261, "no refresh before the token stopped being served"
        refreshed_at.append(clock.now)
    assert min(refreshed_at) >= 240 and max(refreshed_at) <= 256
    assert len(set(refreshed_at)) >= 8  # spread over many distinct seconds, not one
