"""The outbox relay: shop-api's dispatcher hands each claimed outbox event to
:meth:`BrokerRelay.deliver`, which publishes it to the ``orders`` exchange and returns once
the broker confirmed it (publisher confirms). Only then does the dispatcher mark the event
delivered; an unconfirmed event stays in the outbox and is published again later. The
outbox is the source of truth, the broker the transport: a message may be published twice
(at-least-once), never lost, and the worker is idempotent on its ``message_id``.

The connection is authenticated by shop-api's own service token, from the same cache its
HTTP calls use (:class:`svcauth.amqp.aio_pika.AsyncTokenConnection`), renewed with
``update-secret``; a dropped connection is opened again on the next event.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mockmart.storage import OutboxEvent
from mockmart.topology import EXCHANGE
from mockmart.tracing import current_context_headers, span
from mockmart.workers.outbox_dispatcher import DeliveryFailed
from svcauth import SvcAuthError
from svcauth.amqp.aio_pika import AsyncTokenConnection

__all__ = ["BrokerRelay", "message_id", "relay_for"]


def message_id(event: OutboxEvent) -> str:
    """The event's id on the broker (and the worker's idempotency key): ``outbox-<id>``."""
    return f"outbox-{event.id}"


def relay_for(broker_url: str, outgoing: Any) -> BrokerRelay:
    """A relay for ``amqp://host:port/``, taking tokens from ``outgoing``'s source (shop-api's
    ``BearerAuth``: the cache its HTTP calls use)."""
    from urllib.parse import urlsplit

    url = urlsplit(broker_url)
    return BrokerRelay(outgoing.source, url.hostname or "127.0.0.1", url.port or 5672)


class BrokerRelay:
    """Publishes outbox events with confirms over one token-authenticated connection."""

    def __init__(self, source: Any, host: str, port: int) -> None:
        self.broker = AsyncTokenConnection(source, host=host, port=port)
        self._exchange: Any = None
        self._lock = asyncio.Lock()
        self.published = 0
        """Events the broker confirmed."""

    async def _ready(self) -> Any:
        async with self._lock:
            conn = self.broker.connection
            if self._exchange is None or conn is None or conn.is_closed:
                connection = await self.broker.open()
                channel = await connection.channel(publisher_confirms=True)
                self._exchange = await channel.get_exchange(EXCHANGE, ensure=False)
            return self._exchange

    async def deliver(self, event: OutboxEvent) -> None:
        """Publish ``event`` and wait for the broker's confirm; :class:`DeliveryFailed`
        (the dispatcher retries later) when it is not confirmed."""
        import aio_pika

        body = json.dumps({"eventId": message_id(event), "type": event.event_type,
                           **event.payload}).encode()
        # A PRODUCER span under the dispatcher's (the checkout's trace); the message carries
        # its context, so the worker's CONSUMER span is its child.
        with span(f"{EXCHANGE} publish", {
                "messaging.system": "rabbitmq", "messaging.operation.type": "publish",
                "messaging.destination.name": EXCHANGE,
                "messaging.message.id": message_id(event)}, kind="PRODUCER"):
            message = aio_pika.Message(body, message_id=message_id(event),
                                       type=event.event_type, content_type="application/json",
                                       headers=dict(current_context_headers()),
                                       delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await self._publish(message)

    async def _publish(self, message: Any) -> None:
        try:
            exchange = await self._ready()
            async with self.broker.refusals("publish"):
                await exchange.publish(message, routing_key="", mandatory=True, timeout=10)
        except SvcAuthError as exc:
            self._exchange = None
            raise DeliveryFailed(f"broker refused the relay ({exc.code}): {exc.message}") from None
        except Exception as exc:
            self._exchange = None
            raise DeliveryFailed(f"broker unavailable ({type(exc).__name__})") from None
        self.published += 1

    def stats(self) -> dict[str, int]:
        """Published (confirmed) events, update-secret renewals, reconnections."""
        return {"published": self.published, "renewals": self.broker.renewals}

    async def aclose(self) -> None:
        """Close the connection."""
        await self.broker.close()
