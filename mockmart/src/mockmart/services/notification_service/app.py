"""notification-service: sends order and reminder e-mails for allowed services.

Routes (refusals are svcauth's exact RFC 6750 answers):

- ``POST /api/notifications/order`` ``{"orderId", "userEmail"}``: service accounts with
  ``notification-service`` role ``notifications:send``, allowed callers ``shop-api`` (the
  allow-list is ``MOCKMART_ORDER_CLIENTS``). 202 ``{"id", "status": "sent", "duplicate"}``.
- ``POST /api/notifications/reminder`` ``{"userEmail", "cartId"}``: same role, caller
  ``cart-reminder-job``.
- ``GET /api/notifications``: service accounts with role ``notifications:read``. Each row
  carries ``callerClaims``: the verified caller's identity claims notification-service
  accepted with the request (:mod:`.caller_claims`; never the token or its signature).
- ``GET /healthz``: unauthenticated.

Idempotency and its ordering (why no e-mail goes out twice)::

    1. reserve the key  (INSERT ... ON CONFLICT DO NOTHING on a UNIQUE key, with a lease)
         won  -> go on              sent already -> 202, duplicate, nothing sent
         lease held by another request           -> 409 in_progress + Retry-After (retry)
    2. send the e-mail over SMTP, Message-ID = the notification id
         fails -> release the lease, 503 (the caller retries)
    3. mark it sent, answer 202

The key is the ``Idempotency-Key`` header when sent, else ``order:<orderId>``. Concurrent
posts race on step 1's unique constraint and exactly one sends. A crash *between* 2 and 3
is the one window SMTP (not transactional) leaves open: the row stays ``sending``, the
caller retries, and after the lease (30 s) the retry sends again, with the same Message-ID,
which the mail store deduplicates (the embedded sink files it under ``duplicates/``). The
reverse order (record, then send) would instead lose the e-mail on such a crash; an order
e-mail may be repeated once in that rare case, never lost.
"""

# No `from __future__ import annotations`: FastAPI must evaluate the route annotations,
# which name dependencies local to create_app().

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mockmart.api_docs import api_options, install_docs
from mockmart.config import MockMartConfig
from mockmart.services.notification_service.caller_claims import recorded_claims
from mockmart.services.notification_service.mailer import build_message, send_message
from mockmart.storage import Store, open_store
from mockmart.tracing import fastapi_options, span, trace_app
from svcauth.fastapi import ServiceAuth, install_error_handlers

__all__ = ["NotificationGuards", "OrderNotification", "ReminderNotification", "create_app"]

log = logging.getLogger("mockmart.services.notification_service")


class OrderNotification(BaseModel):
    """Body of ``POST /api/notifications/order``."""

    orderId: str = Field(min_length=1, max_length=100)
    userEmail: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class ReminderNotification(BaseModel):
    """Body of ``POST /api/notifications/reminder``."""

    userEmail: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    cartId: str = Field(min_length=1, max_length=100)


@dataclass(frozen=True)
class NotificationGuards:
    """The three svcauth dependencies of the service (built by :mod:`mockmart.security`)."""

    order: ServiceAuth[Any]
    """Role notifications:send, allowed order callers (shop-api)."""
    reminder: ServiceAuth[Any]
    """Role notifications:send, caller cart-reminder-job."""
    read: ServiceAuth[Any]
    """Role notifications:read."""
    jwks_fetches: Any = None
    """A callable returning the key set's fetch count (shown on /healthz)."""


def create_app(config: MockMartConfig, *, store: Store | None = None,
               guards: NotificationGuards) -> FastAPI:
    """The notification-service ASGI app for ``config`` (its store opened from it unless
    given)."""
    db = store if store is not None else open_store(config.database_url)
    app = FastAPI(title="MockMart notification-service", version="1", **fastapi_options(),
                  **api_options())
    install_docs(app)
    trace_app(app)
    install_error_handlers(app)

    async def notify(*, key: str, kind: str, recipient: str, identity: Any,
                     order_id: str | None = None, cart_id: str | None = None) -> JSONResponse:
        caller: str = identity.client_id
        res = await asyncio.to_thread(db.reserve_notification, key, kind=kind, order_id=order_id,
                                      recipient=recipient, caller=caller,
                                      caller_claims=recorded_claims(identity.claims))
        if res.action == "done":
            return JSONResponse({"id": res.id, "status": "sent", "duplicate": True}, 202)
        if res.action == "busy":
            return JSONResponse({"error": "in_progress", "id": res.id}, 409,
                                headers={"Retry-After": "1"})
        msg = build_message(notification_id=res.id, kind=kind, recipient=recipient,
                            caller=caller, order_id=order_id, cart_id=cart_id)
        try:
            with span("SMTP send", {"server.address": config.smtp_host,
                                    "server.port": config.smtp_port, "mockmart.kind": kind},
                      kind="CLIENT"):
                await asyncio.to_thread(send_message, msg, host=config.smtp_host,
                                        port=config.smtp_port)
        except Exception as exc:  # SMTP down: give the lease back, let the caller retry
            log.warning("notification %s: SMTP send failed (%s)", res.id, type(exc).__name__)
            await asyncio.to_thread(db.release_notification, res.id)
            return JSONResponse({"error": "smtp_unavailable", "id": res.id}, 503,
                                headers={"Retry-After": "1"})
        await asyncio.to_thread(db.mark_sent, res.id)
        return JSONResponse({"id": res.id, "status": "sent", "duplicate": False}, 202)

    @app.post("/api/notifications/order", status_code=202)
    async def order(body: OrderNotification, identity: Annotated[Any, Depends(guards.order)],
                    idempotency_key: Annotated[str | None, Header(max_length=200)] = None
                    ) -> JSONResponse:
        key = f"key:{idempotency_key}" if idempotency_key else f"order:{body.orderId}"
        return await notify(key=key, kind="order", recipient=body.userEmail,
                            identity=identity, order_id=body.orderId)

    @app.post("/api/notifications/reminder", status_code=202)
    async def reminder(body: ReminderNotification, identity: Annotated[Any, Depends(guards.reminder)],
                       idempotency_key: Annotated[str | None, Header(max_length=200)] = None
                       ) -> JSONResponse:
        # Without a key every reminder is new; the job sends one key per cart and run.
        key = f"key:{idempotency_key}" if idempotency_key else f"reminder:{uuid.uuid4().hex}"
        return await notify(key=key, kind="reminder", recipient=body.userEmail,
                            identity=identity, cart_id=body.cartId)

    @app.get("/api/notifications")
    async def list_notifications(identity: Annotated[Any, Depends(guards.read)]) -> dict[str, Any]:
        rows = await asyncio.to_thread(db.list_notifications)
        return {"notifications": [
            {"id": r.id, "kind": r.kind, "orderId": r.order_id, "to": r.recipient,
             "caller": r.caller, "status": r.status, "requests": r.requests,
             "createdAt": r.created_at, "sentAt": r.sent_at, "callerClaims": r.caller_claims}
            for r in rows]}

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        fetches = guards.jwks_fetches() if guards.jwks_fetches else None
        return {"status": "ok", "service": "notification-service", "jwks_fetches": fetches}

    return app
