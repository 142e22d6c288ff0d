"""One single-flight primitive for threads and asyncio tasks alike (after Go's
``golang.org/x/sync/singleflight``: ``Do(key, fn)``, ``Forget(key)``).

Per key at most one *flight* is under way; everyone else who needs the same work waits for
it instead of starting their own. A flight is a ``concurrent.futures.Future``, so a thread
waits on it with ``result()`` and a task with ``asyncio.wrap_future`` (the drivers in
:mod:`svcauth._flow` do the waiting; see :class:`~svcauth._flow.Wait`).

The one re-entry rule: **a blocking wait on a flight led from this very thread is refused**
(:meth:`Flight.led_here`). That thread is either inside the leader (recursion) or runs the
event loop whose task leads the flight; waiting would deadlock in both cases, so the caller
goes on without it. A flight led by a task whose event loop has stopped can never settle:
it counts as *abandoned* and the next caller starts a new one. A *detached* flight (led by
a thread of its own, e.g. a background refresh) is never led here nor abandoned.

The optional cooldown is the least time between the starts of two flights of one key
(:meth:`SingleFlight.start` says no meanwhile unless forced); :meth:`SingleFlight.forget`
drops both the flight and the cooldown, so the next caller starts at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import threading
import time
from collections.abc import Callable, Generator, Hashable
from typing import Any, Generic, TypeVar

from ._flow import Wait

__all__ = ["Flight", "SingleFlight"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Flight(Generic[T]):
    """One piece of work under way: its future, and where it is led from."""

    __slots__ = ("future", "key", "loop", "thread")

    def __init__(self, key: Any, *, detached: bool = False) -> None:
        self.key: Any = key
        """The key it serves."""
        self.future: cf.Future[T] = cf.Future()
        """Settled with the leader's result or error."""
        self.future.set_running_or_notify_cancel()  # no waiter can cancel it for the others
        self.thread: int | None = None if detached else threading.get_ident()
        """The thread of the leader (``None``: a thread of its own)."""
        self.loop: asyncio.AbstractEventLoop | None = None
        """The leader's event loop, ``None`` when led from plain (sync) code."""
        if not detached:
            with contextlib.suppress(RuntimeError):
                self.loop = asyncio.get_running_loop()

    def led_here(self) -> bool:
        """True when a blocking wait for this flight, here, would deadlock."""
        return self.thread == threading.get_ident()

    def abandoned(self) -> bool:
        """True when the leader's event loop has stopped: the flight will never settle."""
        loop = self.loop
        return loop is not None and (loop.is_closed() or not loop.is_running())


class SingleFlight(Generic[K, T]):
    """Flights by key. Thread-safe; never blocks while holding its lock."""

    def __init__(self, *, cooldown: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = float(cooldown)
        """Least seconds between the starts of two flights of one key (0: none)."""
        self.clock = clock
        """Monotonic seconds (for the cooldown)."""
        self._lock = threading.Lock()
        self._flights: dict[K, Flight[T]] = {}
        self._next_start: dict[K, float] = {}

    def current(self, key: K) -> Flight[T] | None:
        """The flight under way for ``key`` (abandoned ones do not count), or ``None``."""
        flight = self._flights.get(key)
        if flight is not None and flight.abandoned():
            return None
        return flight

    def cooling(self, key: K) -> bool:
        """True while the cooldown after the last start of ``key`` runs."""
        return self.clock() < self._next_start.get(key, float("-inf"))

    def start(self, key: K, *, force: bool = False, detached: bool = False) -> Flight[T] | None:
        """A new flight that the caller leads and must :meth:`finish`; ``None`` when one is
        under way or (unless ``force``) the cooldown runs. ``detached``: the work runs in a
        thread of its own (see :class:`Flight`)."""
        with self._lock:
            if self.current(key) is not None or (not force and self.cooling(key)):
                return None
            flight: Flight[T] = Flight(key, detached=detached)
            self._flights[key] = flight
            if self.cooldown:
                self._next_start[key] = self.clock() + self.cooldown
            return flight

    def join(self, key: K) -> tuple[Flight[T], bool]:
        """The flight for ``key`` and whether the caller leads it (ignores the cooldown)."""
        with self._lock:
            flight = self.current(key)
            if flight is not None:
                return flight, False
        started = self.start(key, force=True)
        return (started, True) if started is not None else self.join(key)

    def finish(self, flight: Flight[T], result: T | None = None,
               error: BaseException | None = None) -> None:
        """Settle ``flight`` (waiters wake) and let the next caller start a new one."""
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
        if flight.future.done():
            return
        if error is not None:
            flight.future.set_exception(error)
        else:
            flight.future.set_result(result)  # type: ignore[arg-type]

    def forget(self, key: K) -> None:
        """Drop the flight and the cooldown of ``key``: the next caller starts at once (the
        dropped flight still settles for those already waiting)."""
        with self._lock:
            self._flights.pop(key, None)
            self._next_start.pop(key, None)

    def do(self, key: K, work: Callable[[], Generator[Any, Any, T]],
           timeout: float) -> Generator[Any, Any, T]:
        """A flow: lead ``work()`` for ``key`` or wait (up to ``timeout``) for the leader.

        When waiting here would deadlock (the re-entry rule) or the leader is too slow, the
        caller runs ``work()`` itself, unshared, rather than fail. Run it with
        :func:`svcauth._flow.run_sync` or :func:`~svcauth._flow.run_async`.
        """
        flight, lead = self.join(key)
        if not lead:
            waited = yield Wait(flight, timeout)
            if waited == "done":
                return flight.future.result()
            return (yield from work())
        try:
            value = yield from work()
        except BaseException as exc:
            self.finish(flight, error=exc)
            raise
        self.finish(flight, value)
        return value
