"""The one driver pair: the I/O steps a pure core yields, and ``run_sync``/``run_async``.

A stateful part (token fetch, remote key set, introspection, discovery) is written once as
a generator, its *flow*: it yields a step, the driver performs it and sends back the
outcome, until the flow returns its result or raises (the idea of httpx's
``Auth.auth_flow``). The steps:

- :class:`HttpRequest` -> :class:`HttpAnswer` or :class:`TransportFailure` (the driver never
  raises for a transport error: the flow decides what an error means);
- :class:`Sleep` -> ``None``;
- :class:`Wait` on a single-flight :class:`~svcauth._singleflight.Flight` -> ``"done"``,
  ``"timeout"`` or ``"reentrant"`` (a blocking wait on the thread that leads the flight
  would deadlock, so the sync driver does not wait);
- :class:`Call`: call a part that is not a flow (``fn()`` in the sync driver, ``await afn()``
  in the async one) and send back its result: how a flow uses a ``Verifier``;
- :class:`Traced`: run a sub-flow inside a telemetry context manager; its result is sent back.
  Telemetry lives here, around the performer, never inside a core;
- :class:`Start`: run a sub-flow on its own (the sync driver in a daemon thread, or right
  here when ``inline``; the async driver as a task that the caller's cancellation never
  reaches) -> ``None``: how a cache leads a shared fetch or a background refresh.

An exception raised while a step is performed (``CancelledError``, ``KeyboardInterrupt``,
an unexpected error of a client) is thrown into the flow at its ``yield``, so the flow's own
``try``/``finally`` settles what it holds (a single flight, a cooldown) and re-raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextvars
import json
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

if TYPE_CHECKING:  # _singleflight imports Wait from here
    from ._singleflight import Flight

__all__ = ["Call", "HttpAnswer", "HttpRequest", "Sleep", "Start", "Traced", "TransportFailure",
           "Wait", "json_object", "run_async", "run_sync"]

T = TypeVar("T")
Waited = Literal["done", "timeout", "reentrant"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """Send one request. Headers and body may hold credentials: not in repr.

    With ``max_bytes`` the body is streamed as raw bytes (no content decoding, so nothing
    expands past the cap), the read stops once it passes ``max_bytes`` and the whole
    exchange has one deadline of ``timeout`` seconds; without, the whole (decoded) body is
    read and ``timeout`` bounds each socket operation (httpx's own rule).
    ``follow_redirects`` and ``timeout``: ``None`` leaves them to the client (a capped
    request never follows; a short-lived client of the driver has 5 s).
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    content: bytes | None = field(default=None, repr=False)
    timeout: float | None = 5.0
    max_bytes: int | None = None
    follow_redirects: bool | None = False


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What came back: status, headers (case-insensitive lookups by lowercase name), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def json_object(body: bytes) -> dict[str, Any]:
    """``body`` as a strict UTF-8 JSON object, or ``ValueError`` whose text says what was
    found (never the body): the one parse of the JSON answers the flows read."""
    try:
        found = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ValueError("expected a JSON object, found a body that is not JSON") from None
    if not isinstance(found, dict):
        raise ValueError(f"expected a JSON object, found {type(found).__name__}")
    return found


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No answer: the exception's class name (never its text, which may echo the request).
    ``deadline``: the whole-exchange deadline of a capped request passed."""

    kind: str
    timeout: bool = False
    deadline: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds before the next attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait at most ``timeout`` seconds for ``flight`` (led by another caller) to settle."""

    flight: Flight[Any]
    timeout: float


@dataclass(frozen=True, slots=True)
class Call:
    """Call ``fn()`` (sync driver) or ``await afn()`` (async driver); the result is sent back."""

    fn: Callable[[], Any]
    afn: Callable[[], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Traced:
    """Run ``flow`` inside ``around()`` (a telemetry span); ``done(record, result)`` lets the
    record see the result. The sub-flow's result is sent back."""

    flow: Generator[Any, Any, Any]
    around: Callable[[], AbstractContextManager[Any]]
    done: Callable[[Any, Any], None] | None = None


@dataclass(frozen=True, slots=True)
class Start:
    """Run ``flow`` on its own; ``None`` is sent back at once (the flow settles what it
    shares itself, e.g. a single flight). Sync driver: in a daemon thread called ``name``
    carrying the caller's context (a span joins the caller's trace), or in this thread,
    before going on, when ``inline``. Async driver: a task of the running loop, always, so
    that cancelling the caller never cancels the work others wait for."""

    flow: Generator[Any, Any, Any]
    inline: bool = False
    name: str = "svcauth-flow"


Step = HttpRequest | Sleep | Wait | Call | Traced | Start
Outcome = HttpAnswer | TransportFailure | str | None
Flow = Generator[Any, Any, T]
"""A flow yields :data:`Step` values, receives outcomes and returns ``T``."""

Observe = Callable[[int | None], None]
"""Hears each HTTP attempt's status (``None``: no answer)."""


def _answer(response: httpx.Response) -> HttpAnswer:
    return HttpAnswer(response.status_code, dict(response.headers), response.content)


def _failure(exc: httpx.HTTPError) -> TransportFailure:
    return TransportFailure(type(exc).__name__, isinstance(exc, httpx.TimeoutException))


def _redirects(step: HttpRequest) -> bool | httpx._client.UseClientDefault:
    return httpx.USE_CLIENT_DEFAULT if step.follow_redirects is None else step.follow_redirects


def _timeout(step: HttpRequest) -> float | httpx._client.UseClientDefault:
    return httpx.USE_CLIENT_DEFAULT if step.timeout is None else step.timeout


def _deadline(step: HttpRequest) -> float:
    return _OWN_TIMEOUT if step.timeout is None else step.timeout


_OWN_TIMEOUT = 5.0


_DEADLINE = TransportFailure("deadline", timeout=True, deadline=True)


def _advance(flow: Flow[Any], outcome: Outcome, error: BaseException | None) -> tuple[bool, Any]:
    """Hand the flow its outcome (or throw ``error`` in at its ``yield``): ``(False, next
    step)`` or ``(True, its result)``."""
    try:
        return False, (flow.throw(error) if error is not None else flow.send(outcome))
    except StopIteration as stop:
        return True, stop.value


# -- sync ---------------------------------------------------------------------------------

def _read_capped(http: httpx.Client, step: HttpRequest, cap: int,
                 stop: threading.Event) -> HttpAnswer:
    with http.stream(step.method, step.url, headers=step.headers, content=step.content,
                     timeout=_deadline(step), follow_redirects=False) as response:
        body = bytearray()
        # A body already in memory (an in-process transport) is not read again.
        chunks = ((response.content,) if response.is_stream_consumed
                  else response.iter_raw())
        for chunk in chunks:
            body += chunk
            if len(body) > cap or stop.is_set():
                break
        return HttpAnswer(response.status_code, response.headers, bytes(body[: cap + 1]))


def _capped_sync(http: httpx.Client, step: HttpRequest, cap: int) -> HttpAnswer | TransportFailure:
    # httpx's timeouts bound each socket operation, not the whole exchange: a server that
    # drips a byte at a time could hold a blocking read for ever. So the exchange runs in a
    # daemon thread and the caller waits at most `timeout`; on expiry the reader is told to
    # stop (and an own client is closed under it by the caller).
    result: cf.Future[HttpAnswer] = cf.Future()
    stop = threading.Event()

    def run() -> None:
        try:
            result.set_result(_read_capped(http, step, cap, stop))
        except BaseException as exc:  # handed to the waiting caller
            result.set_exception(exc)

    threading.Thread(target=run, name="svcauth-http-read", daemon=True).start()
    try:
        return result.result(timeout=_deadline(step))
    except cf.TimeoutError:
        stop.set()
        return _DEADLINE


def _http_sync(step: HttpRequest, client: httpx.Client | None) -> HttpAnswer | TransportFailure:
    http = client or httpx.Client(timeout=_deadline(step), follow_redirects=False)
    try:
        if step.max_bytes is not None:
            return _capped_sync(http, step, step.max_bytes)
        return _answer(http.request(step.method, step.url, headers=step.headers,
                                    content=step.content, timeout=_timeout(step),
                                    follow_redirects=_redirects(step)))
    except httpx.HTTPError as exc:
        return _failure(exc)
    finally:
        if client is None:
            http.close()


def _wait_sync(step: Wait) -> Waited:
    """Block until the flight settles or ``timeout`` passes (never on its leading thread)."""
    if step.flight.led_here():
        return "reentrant"
    done, _ = cf.wait([step.flight.future], timeout=step.timeout)
    return "done" if done else "timeout"


def _start_sync(step: Start, client: httpx.Client | None, sleep: Callable[[float], None],
                observe: Observe | None) -> None:
    if step.inline:
        run_sync(step.flow, client, sleep, observe)
        return
    threading.Thread(target=contextvars.copy_context().run,
                     args=(run_sync, step.flow, client, sleep, observe),
                     name=step.name, daemon=True).start()


def _perform_sync(step: Step, client: httpx.Client | None, sleep: Callable[[float], None],
                  observe: Observe | None) -> Outcome:
    if isinstance(step, HttpRequest):
        outcome = _http_sync(step, client)
        if observe is not None:
            observe(outcome.status if isinstance(outcome, HttpAnswer) else None)
        return outcome
    if isinstance(step, Sleep):
        sleep(step.seconds)
        return None
    if isinstance(step, Wait):
        return _wait_sync(step)
    if isinstance(step, Call):
        return step.fn()  # type: ignore[no-any-return]
    if isinstance(step, Start):
        _start_sync(step, client, sleep, observe)
        return None
    with step.around() as record:
        result = run_sync(step.flow, client, sleep, observe)
        if step.done is not None:
            step.done(record, result)
    return result  # type: ignore[no-any-return]


def run_sync(flow: Flow[T], client: httpx.Client | None = None,
             sleep: Callable[[float], None] = time.sleep, observe: Observe | None = None) -> T:
    """Drive ``flow`` in this thread with a blocking ``client`` (``None``: a short-lived
    client per request, redirects refused)."""
    done, step = _advance(flow, None, None)
    while not done:
        try:
            outcome = _perform_sync(step, client, sleep, observe)
        except BaseException as exc:
            done, step = _advance(flow, None, exc)
        else:
            done, step = _advance(flow, outcome, None)
    return step  # type: ignore[no-any-return]


# -- async --------------------------------------------------------------------------------

async def _read_capped_async(http: httpx.AsyncClient, step: HttpRequest, cap: int) -> HttpAnswer:
    async with http.stream(step.method, step.url, headers=step.headers, content=step.content,
                           timeout=_deadline(step), follow_redirects=False) as response:
        if response.is_stream_consumed:  # already in memory (an in-process transport)
            return HttpAnswer(response.status_code, response.headers, response.content[: cap + 1])
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > cap:
                break
        return HttpAnswer(response.status_code, response.headers, bytes(body[: cap + 1]))


async def _http_async(step: HttpRequest,
                      client: httpx.AsyncClient | None) -> HttpAnswer | TransportFailure:
    http = client or httpx.AsyncClient(timeout=_deadline(step), follow_redirects=False)
    try:
        if step.max_bytes is not None:
            async with asyncio.timeout(_deadline(step)):
                return await _read_capped_async(http, step, step.max_bytes)
        return _answer(await http.request(step.method, step.url, headers=step.headers,
                                          content=step.content, timeout=_timeout(step),
                                          follow_redirects=_redirects(step)))
    except TimeoutError:
        return _DEADLINE
    except httpx.HTTPError as exc:
        return _failure(exc)
    finally:
        if client is None:
            await http.aclose()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # the leader reports errors; waiters must not log them again


async def _wait_async(step: Wait) -> Waited:
    waiting = asyncio.wrap_future(step.flight.future)
    waiting.add_done_callback(_retrieve)
    # asyncio.wait never cancels what it waits on: the flight goes on for the others.
    done, _ = await asyncio.wait({waiting}, timeout=step.timeout)
    return "done" if done else "timeout"


_TASKS: set[asyncio.Task[Any]] = set()
"""Tasks of :class:`Start` steps, held until done (the loop keeps only weak references)."""


def _start_async(step: Start, client: httpx.AsyncClient | None, sleep: Callable[[float], Any],
                 observe: Observe | None) -> None:
    task = asyncio.get_running_loop().create_task(run_async(step.flow, client, sleep, observe))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def _perform_async(step: Step, client: httpx.AsyncClient | None,
                         sleep: Callable[[float], Any], observe: Observe | None) -> Outcome:
    if isinstance(step, HttpRequest):
        outcome = await _http_async(step, client)
        if observe is not None:
            observe(outcome.status if isinstance(outcome, HttpAnswer) else None)
        return outcome
    if isinstance(step, Sleep):
        await sleep(step.seconds)
        return None
    if isinstance(step, Wait):
        return await _wait_async(step)
    if isinstance(step, Call):
        return await step.afn()  # type: ignore[no-any-return]
    if isinstance(step, Start):
        _start_async(step, client, sleep, observe)
        return None
    with step.around() as record:
        result = await run_async(step.flow, client, sleep, observe)
        if step.done is not None:
            step.done(record, result)
    return result  # type: ignore[no-any-return]


async def run_async(flow: Flow[T], client: httpx.AsyncClient | None = None,
                    sleep: Callable[[float], Any] = asyncio.sleep,
                    observe: Observe | None = None) -> T:
    """Drive ``flow`` on the running event loop with ``client``; as :func:`run_sync`."""
    done, step = _advance(flow, None, None)
    while not done:
        try:
            outcome = await _perform_async(step, client, sleep, observe)
        except BaseException as exc:
            done, step = _advance(flow, None, exc)
        else:
            done, step = _advance(flow, outcome, None)
    return step  # type: ignore[no-any-return]
