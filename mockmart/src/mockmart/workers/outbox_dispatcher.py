"""The outbox dispatcher: shop-api's queue consumer.

It claims due ``order.completed`` events (a lease, see :mod:`mockmart.storage`), delivers each
to notification-service with shop-api's *own* service token, marks it done on 202 and
otherwise schedules a retry with exponential backoff and jitter, forever: at-least-once
delivery. notification-service's idempotency on ``orderId`` turns that into exactly one
e-mail per order. Nothing secret is stored: the outbox holds the order id and the address,
the token lives only in the token source's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import httpx

from mockmart.storage import OutboxEvent, Store
from mockmart.tracing import TracingTransport, httpx_instrumented, span

__all__ = ["DeliveryFailed", "Dispatcher", "NotificationClient", "backoff_delay"]

log = logging.getLogger("mockmart.dispatcher")


def backoff_delay(attempts: int, *, base: float = 0.1, cap: float = 5.0,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``attempts`` failed attempts: ``base * 2**attempts`` capped at
    ``cap``, times a jitter factor in [0.5, 1) so replicas do not retry in lockstep."""
    raw: float = min(cap, base * (2.0 ** min(attempts, 30)))
    return raw * (0.5 + rand() / 2)


class DeliveryFailed(Exception):
    """A delivery that did not end in 202; the message says why (never a token)."""


class NotificationClient:
    """Posts ``order.completed`` events to notification-service (``auth`` adds the token)."""

    def __init__(self, base_url: str, auth: httpx.Auth, *, timeout: float = 10.0) -> None:
        # Traced by the httpx instrumentation when installed, else by the wrapping transport.
        transport = None if httpx_instrumented() else TracingTransport()
        self._client = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=timeout,
                                         transport=transport)

    async def deliver(self, event: OutboxEvent) -> None:
        """Deliver one event; raises :class:`DeliveryFailed` unless answered 202."""
        try:
            response = await self._client.post("/api/notifications/order", json=event.payload)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"notification-service unreachable ({type(exc).__name__})") from None
        except Exception as exc:  # e.g. svcauth's TokenError while the IdP is down
            code = getattr(exc, "code", type(exc).__name__)
            raise DeliveryFailed(f"no service token ({code})") from None
        if response.status_code != 202:
            raise DeliveryFailed(f"notification-service answered {response.status_code}")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


class Dispatcher:
    """Claims and delivers outbox events until stopped (see the module docstring).

    ``deliver`` raises on failure. ``worker`` names this replica in the outbox.
    """

    def __init__(self, store: Store, deliver: Callable[[OutboxEvent], Awaitable[None]], *,
                 worker: str, batch: int = 10, poll: float = 0.2, max_delay: float = 5.0,
                 lease: float = 30.0) -> None:
        self.store = store
        self.deliver = deliver
        self.worker = worker
        self.batch = batch
        self.poll = poll
        self.max_delay = max_delay
        self.lease = lease
        self.delivered = 0
        """Events this replica delivered."""
        self.failures = 0
        """Failed delivery attempts of this replica."""

    async def run_once(self) -> int:
        """Claim one batch and deliver it concurrently; returns how many were claimed."""
        events = await asyncio.to_thread(self.store.claim_events, self.worker,
                                         limit=self.batch, lease=self.lease)
        if events:
            await asyncio.gather(*(self._one(event) for event in events))
        return len(events)

    async def _one(self, event: OutboxEvent) -> None:
        # The delivery continues the checkout's trace, stored with the event.
        attributes = {"messaging.operation.type": "process", "mockmart.outbox.event_id": event.id,
                      "mockmart.outbox.attempts": event.attempts}
        with span(f"dispatcher deliver {event.event_type}", attributes, kind="CONSUMER",
                  parent_headers=event.trace_context or {}):
            await self._deliver_one(event)

    async def _deliver_one(self, event: OutboxEvent) -> None:
        try:
            await self.deliver(event)
        except Exception as exc:
            self.failures += 1
            delay = backoff_delay(event.attempts, cap=self.max_delay)
            reason = str(exc) if isinstance(exc, DeliveryFailed) else type(exc).__name__
            if event.attempts == 0 or event.attempts % 10 == 0:
                log.info("event %s: delivery failed (%s); retry in %.2fs", event.id, reason, delay)
            await asyncio.to_thread(self.store.mark_retry, event.id, delay=delay, error=reason)
            return
        self.delivered += 1
        await asyncio.to_thread(self.store.mark_delivered, event.id, self.worker)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; a failing database only delays the next round."""
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception as exc:
                log.warning("dispatcher round failed: %s", type(exc).__name__)
                claimed = 0
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)
