"""CachingTokenSource on a cold cache: one token request per key, whoever asks."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from svcauth.caller import CachingTokenSource, TokenCache

from .fakes import (
    FakeClock,
    FakeTokenEndpoint,
    FlightWaiters,
    make_source,
    token_value,
    wait_until,
)


def _gated_async(endpoint: FakeTokenEndpoint, started: threading.Event, release: threading.Event):  # type: ignore[no-untyped-def]
    async def handler(request: httpx.Request) -> httpx.Response:
        started.set()
        while not release.is_set():
            await asyncio.sleep(0.001)
        return endpoint(request)
    return handler


@pytest.mark.anyio
async def test_1000_tasks_on_a_cold_cache_make_exactly_one_request() -> None:
    endpoint, started, release = FakeTokenEndpoint(), threading.Event(), threading.Event()
    src = CachingTokenSource(make_source(endpoint, FakeClock(),
                                         async_handler=_gated_async(endpoint, started, release)))
    tasks = [asyncio.create_task(src.atoken()) for _ in range(1000)]
    while not started.is_set():
        await asyncio.sleep(0.001)
    for _ in range(3):
        await asyncio.sleep(0)
    assert not any(t.done() for t in tasks)  # all 1,000 are waiting on the one fetch
    release.set()
    results = await asyncio.gather(*tasks)
    assert endpoint.count == 1
    assert set(results) == {token_value(1)}


def test_50_threads_on_a_cold_cache_make_exactly_one_request(monkeypatch: pytest.MonkeyPatch) -> None:
    waiters = FlightWaiters().install(monkeypatch)
    endpoint = FakeTokenEndpoint(gate=threading.Event())
    src = CachingTokenSource(make_source(endpoint, FakeClock()))
    barrier = threading.Barrier(50)
    results: list[str] = []

    def call() -> None:
        barrier.wait()
        results.append(src.token())

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    wait_until(lambda: endpoint.count == 1)
    wait_until(lambda: waiters.count == 49)  # the other 49 wait on the leader's flight
    assert sum(t.is_alive() for t in threads) == 50
    assert endpoint.gate is not None
    endpoint.gate.set()
    for t in threads:
        t.join(10)
    assert endpoint.count == 1
    assert results == [token_value(1)] * 50


@pytest.mark.anyio
@pytest.mark.parametrize("leader", ["thread", "task"])
async def test_threads_and_tasks_together_share_one_request(
        leader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    waiters = FlightWaiters().install(monkeypatch)
    endpoint, started, release = FakeTokenEndpoint(), threading.Event(), threading.Event()
    endpoint.on_request = lambda _: started.set()

    def sync_gate(request: httpx.Request) -> None:
        started.set()
        assert release.wait(60)

    src_endpoint = endpoint
    if leader == "thread":
        src_endpoint.on_request = sync_gate
    src = CachingTokenSource(make_source(
        src_endpoint, FakeClock(), async_handler=_gated_async(endpoint, started, release)))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(src.token())) for _ in range(50)]
    tasks: list[asyncio.Task[str]] = []
    if leader == "thread":
        threads[0].start()
        while not started.is_set():
            await asyncio.sleep(0.001)
        for t in threads[1:]:
            t.start()
        tasks = [asyncio.create_task(src.atoken()) for _ in range(1000)]
    else:
        tasks = [asyncio.create_task(src.atoken()) for _ in range(1000)]
        while not started.is_set():
            await asyncio.sleep(0.001)
        for t in threads:
            t.start()
    for _ in range(3):
        await asyncio.sleep(0)
    # Every thread but a leading one waits on the one flight; no task has finished.
    await asyncio.to_thread(wait_until, lambda: waiters.count == (49 if leader == "thread" else 50))
    assert not any(t.done() for t in tasks)
    release.set()
    task_results = await asyncio.gather(*tasks)
    for t in threads:
        await asyncio.to_thread(t.join, 10)
    assert endpoint.count == 1
    assert set(task_results) | set(results) == {token_value(1)}
    assert len(results) == 50


@pytest.mark.anyio
async def test_a_slow_fetch_for_one_key_does_not_block_another_key() -> None:
    cache = TokenCache()
    slow_ep, fast_ep = FakeTokenEndpoint(), FakeTokenEndpoint()
    started, release = threading.Event(), threading.Event()
    clock = FakeClock()
    slow = CachingTokenSource(make_source(slow_ep, clock, scope="a",
                                          async_handler=_gated_async(slow_ep, started, release)), cache=cache)
    fast = CachingTokenSource(make_source(fast_ep, clock, scope="b"), cache=cache)
    pending = asyncio.create_task(slow.atoken())
    while not started.is_set():
        await asyncio.sleep(0.001)
    assert await asyncio.wait_for(fast.atoken(), 5) == token_value(1)
    assert await asyncio.to_thread(fast.token) == token_value(1)
    assert not pending.done()
    release.set()
    assert await pending == token_value(1)
    assert (slow_ep.count, fast_ep.count, len(cache)) == (1, 1, 2)


def test_sources_sharing_a_cache_share_the_token() -> None:
    endpoint, clock, cache = FakeTokenEndpoint(), FakeClock(), TokenCache()
    a = CachingTokenSource(make_source(endpoint, clock), cache=cache)
    b = CachingTokenSource(make_source(endpoint, clock), cache=cache)
    assert a.token() == b.token() == token_value(1)
    assert endpoint.count == 1


def test_waiters_share_the_leaders_error_and_the_failure_is_not_cached() -> None:
    endpoint = FakeTokenEndpoint(script=[httpx.Response(
        503, headers={"Retry-After": "60"}, json={"error": "temporarily_unavailable"})])
    src = CachingTokenSource(make_source(endpoint, FakeClock()))
    with pytest.raises(Exception) as first:
        src.token()
    assert getattr(first.value, "code", None) == "temporarily_unavailable"
    assert src.token() == token_value(2)  # next call asks again: nothing bad was cached


def test_a_fetch_left_behind_by_a_closed_event_loop_does_not_block_later_callers() -> None:
    endpoint, started = FakeTokenEndpoint(), threading.Event()

    async def never(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    src = CachingTokenSource(make_source(endpoint, FakeClock(), async_handler=never))
    loop = asyncio.new_event_loop()
    task = loop.create_task(src.atoken())
    for _ in range(10_000):  # run the loop until the fetch has reached the provider
        if started.is_set():
            break
        loop.run_until_complete(asyncio.sleep(0))
    assert started.is_set() and not task.done()
    loop.close()  # closed without cancelling: its fetch can never finish
    assert src.token() == token_value(1)
    assert endpoint.count == 1


def test_sources_with_different_credentials_never_share_a_token() -> None:
    endpoint, clock, cache = FakeTokenEndpoint(), FakeClock(), TokenCache()
    from svcauth import TokenEndpointError
    from svcauth.caller import ClientSecretBasic

    good = CachingTokenSource(make_source(endpoint, clock), cache=cache)
    bad = CachingTokenSource(make_source(endpoint, clock, auth=ClientSecretBasic("wrong")), cache=cache)
    assert good.token() == token_value(1)
    with pytest.raises(TokenEndpointError) as info:
        bad.token()
    assert (info.value.code, endpoint.count, len(cache)) == ("invalid_client", 2, 2)


@pytest.mark.anyio
async def test_a_sync_call_on_the_loop_thread_whose_task_leads_the_fetch_fetches_itself() -> None:
    # Waiting for the task's fetch here would block the very loop that must finish it.
    endpoint, started, release = FakeTokenEndpoint(), threading.Event(), threading.Event()
    src = CachingTokenSource(make_source(endpoint, FakeClock(),
                                         async_handler=_gated_async(endpoint, started, release)))
    pending = asyncio.create_task(src.atoken())
    while not started.is_set():
        await asyncio.sleep(0.001)
    assert src.token() == token_value(1)  # its own, unshared fetch (the gate holds the task's)
    assert src.token() == token_value(1)  # and it is cached: no third request
    release.set()
    assert await pending == token_value(2)
    assert endpoint.count == 2
