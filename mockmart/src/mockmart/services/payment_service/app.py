"""payment-service: charges a user's order, on the user's behalf, with DPoP-bound tokens.

- ``POST /api/payments`` ``{"orderId", "amount_cents"}`` + ``Idempotency-Key`` (required):
  an *exchanged* token (RFC 8693: shop-api exchanged the user's storefront token for one
  whose ``aud`` is payment-service, ``sub`` the user, ``azp`` the acting service), bound to
  the caller's key (DPoP required: ``Authorization: DPoP`` + a proof; a Bearer token is
  401 ``dpop_required``), holding ``payment-service:payments:charge``. 201 ``{"paymentId",
  "status": "captured", "user", "actor"}``, 402 ``{"error": "payment_declined"}``; the same
  key gets the same answer and charges once.
- ``GET /healthz``: calls and refusals per route, payments, JWKS fetches.

payment-service records the user (``sub``) and the acting service (``azp``) and never sees
the storefront token.
"""

# No `from __future__ import annotations`: FastAPI must evaluate the route annotations.

import threading
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mockmart.api_docs import api_options, install_docs
from mockmart.config import MockMartConfig
from mockmart.service_stats import CallStats, simulated
from mockmart.tracing import fastapi_options, trace_app
from svcauth.fastapi import ServiceAuth, install_error_handlers

__all__ = ["Charge", "PaymentGuards", "Payments", "create_app"]


class Charge(BaseModel):
    """Body of ``POST /api/payments``."""

    orderId: str = Field(min_length=1, max_length=100)
    amount_cents: int = Field(ge=0, le=100_000_000)


@dataclass(frozen=True)
class PaymentGuards:
    """payment-service's svcauth dependency (built by :mod:`mockmart.security`)."""

    charge: ServiceAuth[Any]
    """Exchanged user tokens, DPoP required, role payment-service:payments:charge."""
    jwks_fetches: Any = None
    """A callable returning the key set's fetch count (shown on /healthz)."""


class Payments:
    """The payments made, keyed by (user, ``Idempotency-Key``); in memory, thread-safe."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.captured = 0
        """Charges captured."""
        self.declined = 0
        """Charges declined."""

    def charge(self, user: str, actor: str, key: str, body: Charge,
               decline: bool) -> tuple[int, dict[str, Any]]:
        """The (status, body) of this charge, the first answer again for a repeated key."""
        with self._lock:
            found = self._by_key.get((user, key))
            if found is not None:
                return found
            if decline:
                answer = (402, {"error": "payment_declined", "orderId": body.orderId,
                                "message": "the card was declined (simulated)"})
                self.declined += 1
            else:
                answer = (201, {"paymentId": "pay_" + uuid.uuid4().hex[:16],
                                "orderId": body.orderId, "status": "captured",
                                "amount_cents": body.amount_cents, "user": user,
                                "actor": actor})
                self.captured += 1
            self._by_key[(user, key)] = answer
            return answer


def create_app(config: MockMartConfig, *, guards: PaymentGuards) -> FastAPI:
    """The payment-service ASGI app."""
    payments = Payments()
    app = FastAPI(title="MockMart payment-service", version="1", **fastapi_options(), **api_options())
    install_docs(app)
    trace_app(app)
    install_error_handlers(app, include_code=True)
    stats = CallStats.install(app)

    @app.post("/api/payments", status_code=201)
    async def charge(body: Charge, request: Request,
                     who: Annotated[Any, Depends(guards.charge)],
                     idempotency_key: Annotated[str, Header(min_length=1, max_length=200)]
                     ) -> JSONResponse:
        status, answer = payments.charge(who.user, who.client_id, idempotency_key, body,
                                         simulated(request.headers, "payment_fails"))
        return JSONResponse(answer, status)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "service": "payment-service", **stats.snapshot(),
                "payments": {"captured": payments.captured, "declined": payments.declined},
                "jwks_fetches": guards.jwks_fetches() if guards.jwks_fetches else None}

    return app
