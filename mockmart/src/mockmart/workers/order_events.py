"""The order-events worker: a process of its own (client ``order-events-worker``) consuming
the ``orders`` queue with manual acks and asking notification-service to send each order's
e-mail with its own service token.

- One token cache for both of its connections: the broker's (``rabbitmq.read:*/orders``,
  renewed with ``update-secret``) and notification-service's (``notifications:send``).
- Idempotent on the event id (the message's ``message_id``, ``outbox-<id>``): processed ids
  are kept in its own SQLite file and sent as ``Idempotency-Key``, so a redelivery or a
  relay's second publish sends no second e-mail.
- An event is acked only after notification-service answered 202. A transient failure
  (notification-service or the identity provider down) is retried here with backoff and
  does not count as an attempt; a poison message (not JSON, fields missing, a 4xx from
  notification-service) is returned with ``nack(requeue=True)``, and the broker
  dead-letters it to ``orders.dead`` once it has been delivered ``delivery_limit`` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx

from mockmart.topology import QUEUE
from mockmart.tracing import span
from svcauth.amqp.aio_pika import AsyncTokenConnection

__all__ = ["OrderEventsWorker", "ProcessedEvents"]

log = logging.getLogger("mockmart.worker")

TRANSIENT_STATUS = frozenset({401, 403, 408, 429})
"""Answers retried here (with a fresh token for 401) rather than counted as an attempt."""


class Poison(Exception):
    """The message can never be delivered as it is."""


class ProcessedEvents:
    """Event ids whose e-mail notification-service accepted (SQLite, or memory for ``None``)."""

    def __init__(self, path: Path | None) -> None:
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY)")
        self._db.commit()
        self._lock = threading.Lock()

    def seen(self, event_id: str) -> bool:
        """True when ``event_id`` was processed before."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM processed WHERE event_id = ?",
                                   (event_id,)).fetchone()
        return row is not None

    def remember(self, event_id: str) -> None:
        """Record ``event_id`` as processed."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO processed VALUES (?)", (event_id,))
            self._db.commit()


class OrderEventsWorker:
    """Consumes until stopped; counters for ``/healthz`` and the demo."""

    def __init__(self, source: Any, *, host: str, port: int, notification: httpx.AsyncClient,
                 processed: ProcessedEvents, delivery_limit: int = 5, prefetch: int = 20,
                 retry_cap: float = 2.0, broker: Any = None) -> None:
        # ``broker``: another connection maker with the same ``run``/``renewals``/
        # ``reconnects`` (the benchmark's password-authenticated baseline).
        self.broker = broker or AsyncTokenConnection(source, host=host, port=port)
        self.source = source
        self.notification = notification
        self.processed = processed
        self.delivery_limit = delivery_limit
        self.prefetch = prefetch
        self.retry_cap = retry_cap
        self.counts = {"consumed": 0, "acknowledged": 0, "duplicates": 0, "poison_returns": 0,
                       "dead_lettered": 0, "transient_retries": 0}
        self._stop = asyncio.Event()

    def stats(self) -> dict[str, int]:
        """Counters, plus the broker connection's renewals and reconnections."""
        return {**self.counts, "renewals": self.broker.renewals,
                "reconnects": self.broker.reconnects}

    async def _post(self, event_id: str, payload: dict[str, Any]) -> None:
        attempt = 0
        while True:
            try:
                response = await self.notification.post(
                    "/api/notifications/order", json=payload,
                    headers={"Idempotency-Key": event_id})
            except Exception as exc:  # unreachable, or no token while the IdP is down
                reason = getattr(exc, "code", type(exc).__name__)
            else:
                if response.status_code == 202:
                    return
                if response.status_code not in TRANSIENT_STATUS and response.status_code < 500:
                    raise Poison(f"notification-service answered {response.status_code}")
                reason = f"HTTP {response.status_code}"
            if self._stop.is_set():
                raise asyncio.CancelledError
            self.counts["transient_retries"] += 1
            if attempt % 20 == 0:
                log.info("event %s: notification failed (%s), retrying", event_id, reason)
            await asyncio.sleep(min(self.retry_cap, 0.05 * 2 ** min(attempt, 10)))
            attempt += 1

    async def _handle(self, message: Any) -> None:
        self.counts["consumed"] += 1
        event_id = message.message_id or ""
        try:
            if not event_id:
                raise Poison("no message_id")
            if await asyncio.to_thread(self.processed.seen, event_id):
                self.counts["duplicates"] += 1
            else:
                try:
                    body = json.loads(message.body)
                    payload = {"orderId": body["orderId"], "userEmail": body["userEmail"]}
                except (ValueError, KeyError, TypeError) as exc:
                    raise Poison(f"malformed event ({type(exc).__name__})") from None
                headers = {str(k): str(v) for k, v in (message.headers or {}).items()
                           if k in ("traceparent", "tracestate")}
                with span(f"order-events-worker process {message.type or 'event'}",
                          {"messaging.operation.type": "process",
                           "messaging.message.id": event_id}, kind="CONSUMER",
                          parent_headers=headers):
                    await self._post(event_id, payload)
                await asyncio.to_thread(self.processed.remember, event_id)
        except Poison as exc:
            count = int((message.headers or {}).get("x-delivery-count", 0) or 0)
            self.counts["poison_returns"] += 1
            if count + 1 >= self.delivery_limit + 1:
                self.counts["dead_lettered"] += 1
            log.warning("event %s: poison (%s), delivery %d", event_id or "?", exc, count + 1)
            await message.nack(requeue=True)
            return
        await message.ack()
        self.counts["acknowledged"] += 1

    async def _session(self, connection: Any) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        queue = await channel.get_queue(QUEUE, ensure=False)
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_close(*_: Any) -> None:
            if not closed.done():
                closed.set_result(None)

        channel.close_callbacks.add(on_close)
        connection.close_callbacks.add(on_close)
        tag = await queue.consume(self._handle, no_ack=False)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait([stop, closed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if self._stop.is_set():
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
            return
        raise ConnectionError("broker connection or channel closed")

    async def run(self) -> None:
        """Consume until :meth:`stop`; reconnects (fresh token) after every drop."""
        await self.broker.run(self._session, stop=self._stop.is_set)

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()
