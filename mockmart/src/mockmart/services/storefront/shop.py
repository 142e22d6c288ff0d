"""shop-api as the storefront calls it (the API of docs/shop-api: products, checkout,
orders, admin product edits), with the user's access token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ShopAnswer", "ShopClient"]


@dataclass(frozen=True)
class ShopAnswer:
    """One shop-api answer: status and JSON body (``{}`` when it had none)."""

    status: int
    """HTTP status."""
    body: dict[str, Any]
    """The JSON object."""

    @property
    def message(self) -> str:
        """shop-api's ``message`` (or ``error``, or the status) for a page."""
        return str(self.body.get("message") or self.body.get("error")
                   or f"shop-api answered HTTP {self.status}")


class ShopClient:
    """Calls to shop-api; ``token`` is the user's access token (None: anonymous)."""

    def __init__(self, base_url: str, http: httpx.AsyncClient | None = None) -> None:
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=15.0)

    async def _call(self, method: str, path: str, token: str | None, *,
                    params: dict[str, str] | None = None, json: Any = None,
                    headers: dict[str, str] | None = None) -> ShopAnswer:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        try:
            answer = await self.http.request(method, path, params=params, json=json,
                                             headers=sent)
        except httpx.HTTPError as exc:
            return ShopAnswer(503, {"error": "shop_unavailable",
                                    "message": f"shop-api is not reachable ({type(exc).__name__})"})
        try:
            body = answer.json()
        except ValueError:
            body = {}
        return ShopAnswer(answer.status_code, body if isinstance(body, dict) else {"items": body})

    async def products(self, q: str = "", category: str = "") -> ShopAnswer:
        """``GET /api/products?q=&category=`` (no token)."""
        params = {k: v for k, v in (("q", q), ("category", category)) if v}
        return await self._call("GET", "/api/products", None, params=params)

    async def product(self, product_id: str) -> ShopAnswer:
        """``GET /api/products/{id}``."""
        return await self._call("GET", f"/api/products/{product_id}", None)

    async def checkout(self, token: str, items: dict[str, int], key: str) -> ShopAnswer:
        """``POST /api/checkout`` with the cart and its ``Idempotency-Key``."""
        body = {"items": [{"productId": int(pid) if pid.isdigit() else pid, "quantity": n}
                          for pid, n in items.items()]}
        return await self._call("POST", "/api/checkout", token, json=body,
                                headers={"Idempotency-Key": key})

    async def orders(self, token: str) -> ShopAnswer:
        """``GET /api/orders`` (the user's)."""
        return await self._call("GET", "/api/orders", token)

    async def save_product(self, token: str, product_id: str | None,
                           fields: dict[str, Any]) -> ShopAnswer:
        """``PUT /api/products/{id}`` (or ``POST /api/products`` when ``product_id`` is None)."""
        if product_id is None:
            return await self._call("POST", "/api/products", token, json=fields)
        return await self._call("PUT", f"/api/products/{product_id}", token, json=fields)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()
