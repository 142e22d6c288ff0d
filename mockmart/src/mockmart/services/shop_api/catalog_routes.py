"""shop-api's catalog, order history and admin routes (the storefront's API).

- ``GET /api/products?q=&category=`` and ``GET /api/products/{id}``: no authentication.
- ``POST /api/products``, ``PUT /api/products/{id}``: storefront users with the realm role
  ``admin`` (``UserPolicy(required_roles={"realm:admin"})``); others 403.
- ``GET /api/orders``: the caller's own orders.
- ``GET/PUT /api/admin/switches``: role ``admin``, and only in demo mode (404 otherwise).
"""

# No `from __future__ import annotations`: FastAPI must evaluate the route annotations.

import asyncio
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mockmart.services.shop_api.checkout import SwitchBoard
from mockmart.services.shop_api.shop_store import ShopStore

__all__ = ["ProductBody", "SwitchesBody", "add_catalog_routes"]


class ProductBody(BaseModel):
    """Body of ``POST /api/products`` and ``PUT /api/products/{id}``."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    category: str = Field(min_length=1, max_length=100)
    price_cents: int = Field(ge=0, le=100_000_000)


class SwitchesBody(BaseModel):
    """Body of ``PUT /api/admin/switches`` (fields left out keep their value)."""

    out_of_stock: bool | None = None
    payment_fails: bool | None = None
    slow_ms: int | None = Field(default=None, ge=0, le=10_000)


def _unknown(product_id: int) -> JSONResponse:
    return JSONResponse({"error": "unknown_product", "productId": product_id,
                         "message": f"no product {product_id}"}, 404)


def _not_demo() -> JSONResponse:
    return JSONResponse({"error": "not_found", "message": "the failure switches exist only "
                         "when MockMart runs in demo mode"}, 404)


def add_catalog_routes(app: FastAPI, shop: ShopStore, *, user: Any, admin: Any,
                       switches: SwitchBoard, demo: bool) -> None:
    """Register the routes of the module docstring on ``app`` (``user``/``admin``: the
    FastAPI dependencies of storefront users and of admins)."""

    @app.get("/api/products")
    async def products(q: str = "", category: str = "") -> dict[str, Any]:
        found = await asyncio.to_thread(shop.products, query=q[:100], category=category[:100])
        return {"products": [p.json() for p in found],
                "categories": await asyncio.to_thread(shop.categories)}

    @app.get("/api/products/{product_id}")
    async def product(product_id: int) -> JSONResponse:
        found = await asyncio.to_thread(shop.product, product_id)
        return _unknown(product_id) if found is None else JSONResponse(found.json())

    @app.post("/api/products", status_code=201)
    async def create_product(body: ProductBody,
                             who: Annotated[Any, Depends(admin)]) -> JSONResponse:
        saved = await asyncio.to_thread(shop.save_product, None, body.name, body.description,
                                        body.category, body.price_cents)
        assert saved is not None
        return JSONResponse(saved.json(), 201)

    @app.put("/api/products/{product_id}")
    async def update_product(product_id: int, body: ProductBody,
                             who: Annotated[Any, Depends(admin)]) -> JSONResponse:
        saved = await asyncio.to_thread(shop.save_product, product_id, body.name,
                                        body.description, body.category, body.price_cents)
        return _unknown(product_id) if saved is None else JSONResponse(saved.json())

    @app.get("/api/orders")
    async def orders(who: Annotated[Any, Depends(user)]) -> dict[str, Any]:
        found = await asyncio.to_thread(shop.orders, who.subject)
        return {"orders": [o.json() for o in found if o.status != "abandoned"]}

    @app.get("/api/admin/switches")
    async def get_switches(who: Annotated[Any, Depends(admin)]) -> JSONResponse:
        return JSONResponse(switches.get().json()) if demo else _not_demo()

    @app.put("/api/admin/switches")
    async def put_switches(body: SwitchesBody,
                           who: Annotated[Any, Depends(admin)]) -> JSONResponse:
        if not demo:
            return _not_demo()
        changes = {k: v for k, v in body.model_dump().items() if v is not None}
        return JSONResponse(switches.update(**changes).json())
