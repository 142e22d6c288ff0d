"""shop-api: checkout for the shop's users, the outbox dispatcher, the payment webhook.

- ``POST /api/checkout``: a *user* token of the shop's users (issued to ``storefront``); a
  service token is refused. Stores the order and its ``order.completed`` outbox event in one
  transaction and answers 201 whether or not notification-service is reachable right now.
- The dispatcher (a background task, see :mod:`.dispatcher`) delivers the outbox with
  shop-api's *own* service token; the user's token is never forwarded.
- ``POST /api/webhooks/payment`` ``{"orderId", "status"}``: the payment provider's webhook,
  service accounts with ``shop-api`` role ``webhooks:payment``, caller ``payment-provider``.
- ``GET /healthz``: unauthenticated; outbox counts and the key set's fetch count.

A checkout whose items are products (``{"productId", "quantity"}``) fans out to
inventory-service and payment-service first (:mod:`.checkout`); the old body of bare
strings (``{"items": ["sku", ...]}``: no product ids, no prices, nothing to reserve or
charge) stores the order and its event as before (status ``created``). The catalog, order
history and admin routes are in :mod:`.catalog_routes`; docs/mockmart-shop.md has the API.
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

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mockmart.api_docs import api_options, install_docs
from mockmart.config import MockMartConfig
from mockmart.service_stats import CallStats, demo_mode
from mockmart.services.shop_api.backends import Backends
from mockmart.services.shop_api.catalog_routes import add_catalog_routes
from mockmart.services.shop_api.checkout import SwitchBoard, run_checkout
from mockmart.services.shop_api.shop_store import ShopStore
from mockmart.storage import Store, open_store
from mockmart.tracing import current_context_headers, fastapi_options, trace_app
from mockmart.workers.outbox_dispatcher import Dispatcher, NotificationClient
from svcauth.fastapi import ServiceAuth, install_error_handlers

__all__ = ["Checkout", "CheckoutItem", "PaymentWebhook", "ShopGuards", "create_app"]


class CheckoutItem(BaseModel):
    """One cart line: a product (its id, as a number or a string of digits) and a quantity."""

    productId: int | str
    quantity: int = Field(default=1, ge=1, le=100)


class Checkout(BaseModel):
    """Body of ``POST /api/checkout``: product lines, or the old list of bare strings."""

    items: list[CheckoutItem | str] = Field(default_factory=list, max_length=100)


class PaymentWebhook(BaseModel):
    """Body of ``POST /api/webhooks/payment`` (``orderId`` may be a number, as the original
    MockMart sends it)."""

    orderId: str | int = Field(union_mode="left_to_right")
    status: str = Field(pattern=r"^(authorized|captured|failed|refunded)$")


@dataclass(frozen=True)
class ShopGuards:
    """shop-api's svcauth dependencies and its outgoing auth (built by :mod:`mockmart.security`)."""

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
    admin: ServiceAuth[Any] | None = None
    """User tokens issued to storefront with the realm role ``admin``."""
    exchanger: Any = None
    """The ``TokenExchanger`` (DPoP-bound) for payment-service tokens."""
    exchange_fetches: Callable[[], int] | None = None
    """How many token exchanges shop-api made (shown on /healthz)."""


def create_app(config: MockMartConfig, *, store: Store | None = None,
               guards: ShopGuards, dispatcher: bool = True) -> FastAPI:
    """The shop-api ASGI app; with ``dispatcher`` its lifespan runs the outbox dispatcher."""
    db = store if store is not None else open_store(config.database_url)
    worker = f"{socket.gethostname()}-{os.getpid()}"
    state: dict[str, Any] = {}
    shop = ShopStore(db)
    switches = SwitchBoard()
    backends = Backends(config.inventory_url, config.payment_url, outgoing=guards.outgoing,
                        exchanger=guards.exchanger)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not dispatcher:
            yield
            return
        client = NotificationClient(config.notification_url, guards.outgoing)
        deliver = client.deliver
        if config.broker_url:  # the outbox relay: the broker is the transport (docs/broker.md)
            from mockmart.workers.outbox_relay import relay_for

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
            await backends.aclose()
            if "relay" in state:
                await state["relay"].aclose()

    app = FastAPI(title="MockMart shop-api", version="1", lifespan=lifespan, **fastapi_options(),
                  **api_options())
    install_docs(app)
    trace_app(app)
    install_error_handlers(app)
    call_stats = CallStats.install(app)
    add_catalog_routes(app, shop, user=guards.checkout, admin=guards.admin or guards.checkout,
                       switches=switches, demo=demo_mode())

    @app.post("/api/checkout", status_code=201)
    async def checkout(body: Checkout, request: Request,
                       user: Annotated[Any, Depends(guards.checkout)],
                       idempotency_key: Annotated[str | None, Header(max_length=200)] = None
                       ) -> JSONResponse:
        email = getattr(user, "email", None) or user.claims.get("email")
        if not email:
            return JSONResponse({"error": "no_email", "message": "the user has no e-mail"}, 422)
        if user.claims.get("canCheckout") is False:
            return JSONResponse({"error": "checkout_not_allowed", "message": "this account "
                                 "may not check out (its canCheckout attribute is false)"}, 403)
        products = [i for i in body.items if isinstance(i, CheckoutItem)]
        if not products:
            # The old body: the order and its event, no fan-out (see the module docstring).
            # The outbox event keeps this request's trace context: its delivery joins the trace.
            order_id = await asyncio.to_thread(db.create_order, user.subject, email,
                                               current_context_headers())
            return JSONResponse({"orderId": order_id, "status": "created"}, 201)
        if len(products) != len(body.items):
            return JSONResponse({"error": "invalid_items", "message": "expected every item "
                                 "to be a product line, found a mix with bare strings"}, 422)
        lines, total = [], 0
        for item in products:
            pid = int(item.productId) if str(item.productId).isdigit() else -1
            found = await asyncio.to_thread(shop.product, pid) if pid > 0 else None
            if found is None:
                return JSONResponse({"error": "unknown_product", "productId": item.productId,
                                     "message": f"no product {str(item.productId)[:40]!r}"}, 404)
            lines.append({"productId": found.id, "name": found.name,
                          "quantity": item.quantity, "price_cents": found.price_cents})
            total += found.price_cents * item.quantity
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        outcome = await run_checkout(shop, backends, user_sub=user.subject, email=email,
                                     user_token=token, idem_key=idempotency_key, lines=lines,
                                     total_cents=total, switches=switches.get(),
                                     trace_context=current_context_headers)
        if outcome.compensated:
            state["compensations"] = state.get("compensations", 0) + 1
        return JSONResponse(outcome.body, outcome.status,
                            headers={"Idempotent-Replayed": "true"} if outcome.replayed else None)

    @app.post("/api/webhooks/payment")
    async def payment(body: PaymentWebhook,
                      caller: Annotated[Any, Depends(guards.payment)]) -> JSONResponse:
        order_ref = str(body.orderId)
        found = await asyncio.to_thread(db.record_payment, order_ref, body.status)
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
                "token_fetches": guards.token_fetches() if guards.token_fetches else None,
                "exchange_fetches": guards.exchange_fetches() if guards.exchange_fetches
                else None,
                "compensations": state.get("compensations", 0), **call_stats.snapshot()}

    return app
