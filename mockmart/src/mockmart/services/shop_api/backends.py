"""shop-api's calls to the services behind checkout: inventory-service and payment-service.

- inventory: shop-api's *own* service token (client credentials, ``BearerAuth``); the same
  cached token serves notification-service (one token whose ``aud`` holds every service
  shop-api holds roles of, see docs/decisions.md).
- payment: a token shop-api gets by *token exchange* of the user's storefront token
  (``TokenExchanger``, audience ``payment-service``), bound to shop-api's DPoP key: the
  request carries ``Authorization: DPoP`` and a proof. payment-service never sees the
  storefront token.

Every failure to reach a service (connection, 5xx, no token) is :class:`ServiceDown` with a
stable code, which checkout answers with 503.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from mockmart.service_stats import SIMULATE_HEADER
from mockmart.tracing import TracingTransport, httpx_instrumented
from svcauth.httpx import BearerAuth

__all__ = ["Backends", "ServiceDown", "Verdict"]


class ServiceDown(Exception):
    """A service behind checkout could not answer; ``code`` is the 503's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Verdict:
    """A service's answer that checkout decides on."""

    status: int
    """HTTP status."""
    body: dict[str, Any]
    """JSON body."""


def _headers(key: str | None, simulate: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    if key is not None:
        headers["Idempotency-Key"] = key
    if simulate:
        headers[SIMULATE_HEADER] = ",".join(simulate)
    return headers


class Backends:
    """The HTTP clients of checkout (see the module docstring)."""

    def __init__(self, inventory_url: str, payment_url: str, *, outgoing: httpx.Auth,
                 exchanger: Any, timeout: float = 10.0) -> None:
        transport = None if httpx_instrumented() else TracingTransport()
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self.inventory_url = inventory_url
        self.payment_url = payment_url
        self._outgoing = outgoing
        self.exchanger = exchanger
        """The ``TokenExchanger`` of payment tokens (its cache keys on user and audience)."""

    async def _send(self, service: str, method: str, url: str, auth: httpx.Auth,
                    json: Any = None, headers: dict[str, str] | None = None) -> Verdict:
        try:
            response = await self._http.request(method, url, json=json, headers=headers,
                                                auth=auth)
        except httpx.HTTPError as exc:
            raise ServiceDown(f"{service}_unavailable",
                              f"{service}-service unreachable ({type(exc).__name__})") from None
        except Exception as exc:  # svcauth's TokenError while the identity provider is down
            code = getattr(exc, "code", type(exc).__name__)
            raise ServiceDown("identity_provider_unavailable",
                              f"no token for {service}-service ({code})") from None
        if response.status_code >= 500:
            raise ServiceDown(f"{service}_unavailable",
                              f"{service}-service answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        return Verdict(response.status_code, body if isinstance(body, dict) else {})

    async def check(self, items: list[dict[str, int]], simulate: tuple[str, ...]) -> Verdict:
        """Ask inventory-service whether every line is in stock."""
        return await self._send("inventory", "POST", self.inventory_url + "/api/inventory/check",
                                self._outgoing, {"items": items}, _headers(None, simulate))

    async def reserve(self, order_id: str, items: list[dict[str, int]], key: str,
                      simulate: tuple[str, ...]) -> Verdict:
        """Reserve the lines (idempotent under ``key``)."""
        return await self._send("inventory", "POST",
                                self.inventory_url + "/api/inventory/reservations",
                                self._outgoing, {"orderId": order_id, "items": items},
                                _headers(key, simulate))

    async def release(self, reservation_id: str) -> Verdict:
        """Give a reservation back (idempotent)."""
        return await self._send("inventory", "POST", self.inventory_url
                                + f"/api/inventory/reservations/{reservation_id}/release",
                                self._outgoing)

    async def payment_token(self, user_token: str) -> None:
        """Exchange the user's token for payment-service now (cached per user and audience),
        so checkout can do it while inventory answers."""
        try:
            await self.exchanger.aexchange(user_token, audience="payment-service")
        except Exception as exc:
            code = getattr(exc, "code", type(exc).__name__)
            raise ServiceDown("payment_token_unavailable",
                              f"token exchange for payment-service failed ({code})") from None

    async def charge(self, user_token: str, order_id: str, amount_cents: int, key: str,
                     simulate: tuple[str, ...]) -> Verdict:
        """Charge the user (idempotent under ``key``) with the exchanged DPoP-bound token."""
        auth = BearerAuth(self.exchanger.source(user_token, audience="payment-service"))
        return await self._send("payment", "POST", self.payment_url + "/api/payments", auth,
                                {"orderId": order_id, "amount_cents": amount_cents},
                                _headers(key, simulate))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
