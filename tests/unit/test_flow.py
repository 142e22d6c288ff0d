"""The shared drivers: each step performed the same way by run_sync and run_async; errors
thrown into the flow; the capped read stops past its cap; traced sub-flows."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import pytest

from svcauth._flow import (
    Call,
    HttpAnswer,
    HttpRequest,
    Sleep,
    Traced,
    TransportFailure,
    run_async,
    run_sync,
)

URL = "https://idp.example/x"


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A streamed body of n chunks; counts how many were read."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size, self.read = n, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.n):
            self.read += 1
            yield b"x" * self.size

    async def __aiter__(self) -> Any:
        for _ in range(self.n):
            self.read += 1
            yield b"x" * self.size


def _flow(step: Any) -> Generator[Any, Any, Any]:
    return (yield step)


def _sync(handler: Any) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _async(handler: Any) -> httpx.AsyncClient:
    async def ahandler(request: httpx.Request) -> httpx.Response:
        return handler(request)  # type: ignore[no-any-return]
    return httpx.AsyncClient(transport=httpx.MockTransport(ahandler))


def test_request_is_sent_and_answered() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, headers={"X-A": "1"}, content=b"ok")

    answer = run_sync(_flow(HttpRequest("POST", URL, {"X-Q": "2"}, b"body")), _sync(handler))
    assert answer == HttpAnswer(201, {"x-a": "1", "content-length": "2"}, b"ok")
    assert seen[0].method == "POST" and seen[0].headers["x-q"] == "2" and seen[0].content == b"body"


@pytest.mark.anyio
async def test_transport_error_is_an_outcome_not_an_exception() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("no", request=request)

    expected = TransportFailure("ConnectTimeout", timeout=True)
    assert run_sync(_flow(HttpRequest("GET", URL)), _sync(handler)) == expected
    assert await run_async(_flow(HttpRequest("GET", URL)), _async(handler)) == expected


@pytest.mark.anyio
async def test_capped_read_stops_past_the_cap() -> None:
    sync_body, async_body = Chunks(100, 1024), Chunks(100, 1024)
    step = HttpRequest("GET", URL, max_bytes=4096)
    answer = run_sync(_flow(step), _sync(lambda r: httpx.Response(200, stream=sync_body)))
    aanswer = await run_async(_flow(step), _async(lambda r: httpx.Response(200, stream=async_body)))
    assert len(answer.body) == len(aanswer.body) == 4097  # cap + 1: "more than the cap"
    assert sync_body.read == async_body.read == 5


@pytest.mark.anyio
async def test_error_while_performing_is_thrown_into_the_flow() -> None:
    settled: list[str] = []

    def flow() -> Generator[Any, Any, str]:
        try:
            yield Call(_boom, _aboom)
        except KeyError:
            settled.append("caught")
        yield Sleep(0.0)
        return "after"

    slept: list[float] = []

    async def asleep(seconds: float) -> None:
        slept.append(seconds)

    assert run_sync(flow(), sleep=slept.append) == "after"
    assert await run_async(flow(), sleep=asleep) == "after"
    assert settled == ["caught", "caught"] and slept == [0.0, 0.0]


def _boom() -> None:
    raise KeyError("k")


async def _aboom() -> None:
    raise KeyError("k")


@pytest.mark.anyio
async def test_traced_sub_flow_runs_inside_its_context_and_sees_the_result() -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def span() -> Iterator[list[str]]:
        events.append("enter")
        yield events
        events.append("exit")

    def sub() -> Generator[Any, Any, int]:
        events.append("sub")
        return 9
        yield

    def flow() -> Generator[Any, Any, int]:
        return (yield Traced(sub(), span, lambda record, result: record.append(f"saw {result}")))

    assert run_sync(flow()) == 9
    assert await run_async(flow()) == 9
    assert events == ["enter", "sub", "saw 9", "exit"] * 2
