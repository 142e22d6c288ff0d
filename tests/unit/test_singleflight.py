"""The single-flight primitive: one flight per key, shared by threads and asyncio tasks, the
one re-entry rule, the cooldown, forget; driven by both drivers of svcauth._flow."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import Any

import pytest

from svcauth._flow import Call, Wait, run_async, run_sync
from svcauth._singleflight import SingleFlight


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_flight_per_key_until_finished() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    first = flights.start("a")
    assert first is not None and flights.current("a") is first
    assert flights.start("a") is None  # one under way
    other = flights.start("b")
    assert other is not None and other is not first  # keys are independent
    flights.finish(first, 7)
    assert first.future.result() == 7 and flights.current("a") is None
    assert flights.start("a") is not None


def test_cooldown_refuses_a_new_start_unless_forced_and_forget_clears_it() -> None:
    clock = Clock()
    flights: SingleFlight[str, int] = SingleFlight(cooldown=30.0, clock=clock)
    first = flights.start("k")
    assert first is not None
    flights.finish(first, 1)
    clock.now += 29.0
    assert flights.cooling("k") and flights.start("k") is None
    forced = flights.start("k", force=True)
    assert forced is not None
    flights.finish(forced, 2)
    flights.forget("k")
    assert not flights.cooling("k") and flights.start("k") is not None


def test_forget_drops_the_flight_but_it_still_settles_for_its_waiters() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    flight = flights.start("k")
    assert flight is not None
    flights.forget("k")
    assert flights.current("k") is None
    newer = flights.start("k")
    assert newer is not None and newer is not flight
    flights.finish(flight, 5)  # the old flight settles; the newer one stays current
    assert flight.future.result() == 5 and flights.current("k") is newer


def test_error_of_the_leader_reaches_the_waiters() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    flight = flights.start("k")
    assert flight is not None
    flights.finish(flight, error=LookupError("no"))
    with pytest.raises(LookupError, match="no"):
        flight.future.result()


def _work(calls: list[int], value: int) -> Generator[Any, Any, int]:
    calls.append(value)
    return value
    yield  # a flow


def _announced(flow: Generator[Any, Any, int], joined: threading.Semaphore
               ) -> Generator[Any, Any, int]:
    """``flow``, telling ``joined`` once it has joined the flight (its first step)."""
    step = next(flow)
    joined.release()
    while True:
        outcome = yield step
        try:
            step = flow.send(outcome)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def test_threads_wait_for_the_flight_under_way_through_do() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    flight = flights.start("k")  # under way before any waiter comes
    assert flight is not None
    calls: list[int] = []
    results: list[int] = []
    joined = threading.Semaphore(0)
    waiters = [threading.Thread(target=lambda: results.append(run_sync(_announced(
        flights.do("k", lambda: _work(calls, 2), timeout=30.0), joined))))
        for _ in range(5)]
    for waiter in waiters:
        waiter.start()
    for _ in waiters:
        assert joined.acquire(timeout=30.0)
    flights.finish(flight, 1)
    for waiter in waiters:
        waiter.join(30.0)
    assert calls == [] and results == [1] * 5


def test_do_leads_when_nothing_is_under_way_and_settles_the_flight() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls: list[int] = []
    assert run_sync(flights.do("k", lambda: _work(calls, 4), timeout=1.0)) == 4
    assert calls == [4] and flights.current("k") is None


@pytest.mark.anyio
async def test_tasks_share_one_flight_through_do() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls: list[int] = []
    release = asyncio.Event()

    def work() -> Generator[Any, Any, int]:
        calls.append(1)
        yield Call(lambda: None, release.wait)
        return 42

    tasks = [asyncio.create_task(run_async(flights.do("k", work, timeout=5.0)))
             for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*tasks) == [42] * 10 and calls == [1]


@pytest.mark.anyio
async def test_blocking_wait_on_a_flight_led_from_this_thread_is_refused() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    flight = flights.start("k")  # led by this task, on this thread's loop
    assert flight is not None and flight.led_here() and flight.loop is not None

    def peek() -> Generator[Any, Any, str]:
        return (yield Wait(flight, 5.0))

    assert run_sync(peek()) == "reentrant"  # a sync caller on the loop's thread: no deadlock
    flights.finish(flight, 1)
    assert await run_async(peek()) == "done"


def test_a_flight_of_a_stopped_loop_is_abandoned() -> None:
    flights: SingleFlight[str, int] = SingleFlight()

    async def lead() -> None:
        flights.start("k")

    asyncio.run(lead())  # the loop ends with the flight unsettled
    assert flights.current("k") is None
    assert flights.start("k") is not None


def test_waiter_runs_the_work_itself_when_the_leader_is_too_slow() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    stuck = threading.Thread(target=lambda: flights.start("k"))
    stuck.start()
    stuck.join()
    calls: list[int] = []

    def work() -> Generator[Any, Any, int]:
        calls.append(1)
        return 3
        yield  # a flow

    assert run_sync(flights.do("k", work, timeout=0.0)) == 3 and calls == [1]
