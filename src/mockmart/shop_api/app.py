"""shop-api: checkout for the shop's users, the outbox dispatcher, the payment webhook.

- ``POST /api/checkout``: a *user* token of the shop's users (issued to ``storefront``); a
  service token is refused. Stores the order and its ``order.completed`` outbox event in one
  transaction and answers 201 whether or not notification-service is reachable right now.
- The dispatcher (a background task, see :mod:`.dispatcher`) delivers the outbox with
  shop-api's *own* service token; the user's token is never forwarded.
- ``POST /api/webhooks/payment`` ``{"orderId", "status"}``: the payment provider's webhook,
  service accounts with ``shop-api`` role ``webhooks:payment``, caller ``payment-provider``.
- ``GET /healthz``: unauthenticated; outbox counts and the key set's fetch count.
"""

# No `from __future__ import annotations`: FastAPI must evaluate the route annotations,
# which name dependencies local to create_app().

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from svcauth.fastapi import ServiceAuth, install_error_handlers

from ..config import MockMartConfig
from ..storage import Store, open_store
from ..tracing import current_context_headers, fastapi_options, trace_app
from .dispatcher import Dispatcher, NotificationClient

__all__ = ["Checkout", "PaymentWebhook", "ShopGuards", "create_app"]


class Checkout(BaseModel):
    """Body of ``POST /api/checkout`` (the cart is not modelled beyond its items)."""

    items: list[str] = Field(default_factory=list, max_length=100)


class PaymentWebhook(BaseModel):
    """Body of ``POST /api/webhooks/payment``."""

    orderId: str = Field(min_length=1, max_length=100)
    status: str = Field(pattern=r"^(authorized|captured|failed|refunded)$")


@dataclass(frozen=True)
class ShopGuards:
    """shop-api's svcauth dependencies and its outgoing auth (see :mod:`mockmart.security`)."""

    checkout: ServiceAuth[Any]
    """User tokens issued to storefront."""
    payment: ServiceAuth[Any]
    """Role shop-api webhooks:payment, caller payment-provider."""
    outgoing: Any
    """httpx.Auth adding shop-api's own service token (the dispatcher's calls)."""
    jwks_fetches: Callable[[], int] | None = None
    """The key set's fetch count (shown on /healthz)."""
    token_fetches: Callable[[], int] | None = None
    """How many tokens shop-api asked for (shown on /healthz)."""


def create_app(config: MockMartConfig, *, store: Store | None = None,
               guards: ShopGuards | None = None, dispatcher: bool = True) -> FastAPI:
    """The shop-api ASGI app; with ``dispatcher`` its lifespan runs the outbox dispatcher."""
    if guards is None:
        from ..security import shop_guards

        guards = shop_guards(config)
    db = store if store is not None else open_store(config.database_url)
    worker = f"{socket.gethostname()}-{os.getpid()}"
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not dispatcher:
            yield
            return
        client = NotificationClient(config.notification_url, guards.outgoing)
        deliver = client.deliver
        if config.broker_url:  # the outbox relay: the broker is the transport (docs/broker.md)
            from ..broker.relay import relay_for

            state["relay"] = relay_for(config.broker_url, guards.outgoing)
            deliver = state["relay"].deliver
        state["d"] = Dispatcher(db, deliver, worker=worker, poll=config.dispatcher_poll,
                                max_delay=config.retry_max_delay)
        stop = asyncio.Event()
        task = asyncio.create_task(state["d"].run(stop))
        try:
            yield
        finally:
            stop.set()
            await task
            await client.aclose()
            if "relay" in state:
                await state["relay"].aclose()

    app = FastAPI(title="MockMart shop-api", version="1", lifespan=lifespan, **fastapi_options())
    trace_app(app)
    install_error_handlers(app)

    @app.post("/api/checkout", status_code=201)
    async def checkout(body: Checkout, user: Annotated[Any, Depends(guards.checkout)]) -> JSONResponse:
        email = getattr(user, "email", None) or user.claims.get("email")
        if not email:
            return JSONResponse({"error": "no_email", "message": "the user has no e-mail"}, 422)
        # The outbox event keeps this request's trace context: its delivery joins the trace.
        order_id = await asyncio.to_thread(db.create_order, user.subject, email,
                                           current_context_headers())
        return JSONResponse({"orderId": order_id, "status": "created"}, 201)

    @app.post("/api/webhooks/payment")
    async def payment(body: PaymentWebhook,
                      caller: Annotated[Any, Depends(guards.payment)]) -> JSONResponse:
        found = await asyncio.to_thread(db.record_payment, body.orderId, body.status)
        if not found:
            return JSONResponse({"error": "unknown_order"}, 404)
        return JSONResponse({"orderId": body.orderId, "status": body.status,
                             "recordedFrom": caller.client_id}, 200)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        stats = await asyncio.to_thread(db.outbox_stats)
        d = state.get("d")
        return {"status": "ok", "service": "shop-api", "worker": worker, "outbox": stats,
                "dispatcher": None if d is None else {"delivered": d.delivered,
                                                      "failures": d.failures},
                "broker": state["relay"].stats() if "relay" in state else None,
                "jwks_fetches": guards.jwks_fetches() if guards.jwks_fetches else None,
                "token_fetches": guards.token_fetches() if guards.token_fetches else None}

    return app
