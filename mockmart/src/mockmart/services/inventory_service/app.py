"""inventory-service: stock per product, authorized by roles (never by the caller's id).

- ``POST /api/inventory/check`` ``{"items": [{"productId", "quantity"}]}``: role
  ``inventory-service:inventory:read``. 200 ``{"available": bool, "missing": [ids]}``.
- ``POST /api/inventory/reservations`` ``{"orderId", "items"}`` + ``Idempotency-Key``
  (required): role ``inventory-service:inventory:reserve``. 201 ``{"reservationId",
  "status": "reserved"}`` or 409 ``{"error": "out_of_stock", "missing"}``; a retry with the
  same key gets the same answer and takes no stock twice.
- ``POST /api/inventory/reservations/{id}/release``: role ``inventory:reserve``. 200
  ``{"reservationId", "status": "released" | "already_released"}``, 404 unknown.
- ``GET /healthz``: calls and refusals per route, reservations, JWKS fetches.

Refusals are svcauth's RFC 6750 answers with their stable ``code``.
"""

# No `from __future__ import annotations`: FastAPI must evaluate the route annotations.

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mockmart.api_docs import api_options, install_docs
from mockmart.config import MockMartConfig
from mockmart.service_stats import CallStats, simulated
from mockmart.services.inventory_service.stock import Line, Stock
from mockmart.tracing import fastapi_options, trace_app
from svcauth.fastapi import ServiceAuth, install_error_handlers

__all__ = ["InventoryGuards", "InventoryItem", "create_app"]


class InventoryItem(BaseModel):
    """One line: a product and a quantity."""

    productId: int = Field(ge=1)
    quantity: int = Field(ge=1, le=1000)


class CheckBody(BaseModel):
    """Body of ``POST /api/inventory/check``."""

    items: list[InventoryItem] = Field(min_length=1, max_length=100)


class ReserveBody(BaseModel):
    """Body of ``POST /api/inventory/reservations``."""

    orderId: str = Field(min_length=1, max_length=100)
    items: list[InventoryItem] = Field(min_length=1, max_length=100)


@dataclass(frozen=True)
class InventoryGuards:
    """inventory-service's svcauth dependencies (built by :mod:`mockmart.security`)."""

    read: ServiceAuth[Any]
    """Role inventory-service:inventory:read."""
    reserve: ServiceAuth[Any]
    """Role inventory-service:inventory:reserve."""
    jwks_fetches: Any = None
    """A callable returning the key set's fetch count (shown on /healthz)."""


def _lines(items: list[InventoryItem]) -> list[Line]:
    return [Line(i.productId, i.quantity) for i in items]


def create_app(config: MockMartConfig, *, guards: InventoryGuards,
               stock: Stock | None = None) -> FastAPI:
    """The inventory-service ASGI app."""
    inventory = stock if stock is not None else Stock()
    app = FastAPI(title="MockMart inventory-service", version="1", **fastapi_options(), **api_options())
    install_docs(app)
    trace_app(app)
    install_error_handlers(app, include_code=True)
    stats = CallStats.install(app)

    @app.post("/api/inventory/check")
    async def check(body: CheckBody, request: Request,
                    caller: Annotated[Any, Depends(guards.read)]) -> dict[str, Any]:
        lines = _lines(body.items)
        missing = (sorted({ln.product_id for ln in lines})
                   if simulated(request.headers, "out_of_stock") else list(inventory.missing(lines)))
        return {"available": not missing, "missing": missing}

    @app.post("/api/inventory/reservations", status_code=201)
    async def reserve(body: ReserveBody, request: Request,
                      caller: Annotated[Any, Depends(guards.reserve)],
                      idempotency_key: Annotated[str, Header(min_length=1, max_length=200)]
                      ) -> JSONResponse:
        result, _ = inventory.reserve(caller.client_id, idempotency_key, _lines(body.items),
                                      force_out_of_stock=simulated(request.headers,
                                                                   "out_of_stock"))
        return JSONResponse(result.json(), 201 if result.reservation_id else 409)

    @app.post("/api/inventory/reservations/{reservation_id}/release")
    async def release(reservation_id: str,
                      caller: Annotated[Any, Depends(guards.reserve)]) -> JSONResponse:
        outcome = inventory.release(reservation_id)
        if outcome == "unknown":
            return JSONResponse({"error": "unknown_reservation",
                                 "message": f"no reservation {reservation_id[:40]!r}"}, 404)
        return JSONResponse({"reservationId": reservation_id, "status": outcome}, 200)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "service": "inventory-service", **stats.snapshot(),
                "stock": inventory.counts(),
                "jwks_fetches": guards.jwks_fetches() if guards.jwks_fetches else None}

    return app
