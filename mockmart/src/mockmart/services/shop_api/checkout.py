"""Checkout's fan-out: inventory, payment, then the outbox notification, with compensation.

::

    begin order (pending; the user's Idempotency-Key finds an earlier one)
    ├─ in parallel: inventory check          (shop-api's token, role inventory:read)
    │               payment token exchange   (user's token -> payment-service, DPoP-bound)
    ├─ reserve stock                         (role inventory:reserve, key <order>:reserve)
    ├─ charge                                (DPoP, exchanged token, key <order>:charge)
    │     declined -> release the reservation, order failed, 402
    └─ confirmed + order.completed in the outbox, one transaction (notification-service)

Every call to a service carries an ``Idempotency-Key`` derived from the order, so a retry of
the whole checkout (same ``Idempotency-Key`` from the client) repeats no reservation, no
charge and no e-mail: a finished order answers again what it answered first; an order cut
short by a service outage (503) is abandoned and the retry starts afresh.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from mockmart.services.shop_api.backends import Backends, ServiceDown
from mockmart.services.shop_api.shop_store import Order, ShopStore

__all__ = ["CheckoutOutcome", "SwitchBoard", "Switches", "run_checkout"]


@dataclass(frozen=True)
class Switches:
    """The demo's failure switches (``GET/PUT /api/admin/switches``)."""

    out_of_stock: bool = False
    """inventory-service reports every product out of stock."""
    payment_fails: bool = False
    """payment-service declines every charge."""
    slow_ms: int = 0
    """shop-api waits this long before calling the services."""

    def json(self) -> dict[str, Any]:
        """The contract's switches object."""
        return {"out_of_stock": self.out_of_stock, "payment_fails": self.payment_fails,
                "slow_ms": self.slow_ms}

    def simulate(self) -> tuple[str, ...]:
        """What to ask the services to simulate."""
        return tuple(name for name, on in (("out_of_stock", self.out_of_stock),
                                           ("payment_fails", self.payment_fails)) if on)


class SwitchBoard:
    """The switches of one shop-api process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = Switches()

    def get(self) -> Switches:
        """The current switches."""
        with self._lock:
            return self._now

    def update(self, **changes: Any) -> Switches:
        """Change some switches; the new ones."""
        with self._lock:
            self._now = replace(self._now, **changes)
            return self._now


@dataclass(frozen=True)
class CheckoutOutcome:
    """What checkout answers."""

    status: int
    """HTTP status."""
    body: dict[str, Any]
    """JSON body."""
    compensated: bool = False
    """True when a reservation was released after a failed payment."""
    replayed: bool = False
    """True when this is the stored answer of an earlier request with the same key."""


def _declined(order_id: str) -> dict[str, Any]:
    return {"error": "payment_failed", "orderId": order_id,
            "message": "the payment was declined; the reservation was released"}


def _out_of_stock(order_id: str) -> dict[str, Any]:
    return {"error": "out_of_stock", "orderId": order_id,
            "message": "some products are out of stock"}


def _replay(order: Order) -> CheckoutOutcome | None:
    """The first answer again (``replayed``), for an order that reached its end."""
    if order.status == "confirmed":
        return CheckoutOutcome(201, order.json(), replayed=True)
    if order.status == "failed":
        return CheckoutOutcome(402, _declined(order.order_id), replayed=True)
    if order.status == "rejected":
        return CheckoutOutcome(409, _out_of_stock(order.order_id), replayed=True)
    return None  # pending: a checkout still running (or cut short): run the steps again


async def run_checkout(shop: ShopStore, backends: Backends, *, user_sub: str, email: str,
                       user_token: str, idem_key: str | None, lines: list[dict[str, Any]],
                       total_cents: int, switches: Switches,
                       trace_context: Callable[[], dict[str, str]]) -> CheckoutOutcome:
    """The fan-out of one checkout (see the module docstring)."""
    order, new = await asyncio.to_thread(shop.begin_order, user_sub, email, idem_key, lines,
                                         total_cents)
    if not new and (replayed := _replay(order)) is not None:
        return replayed
    oid = order.order_id
    items = [{"productId": ln["productId"], "quantity": ln["quantity"]} for ln in lines]
    simulate = switches.simulate()
    if switches.slow_ms > 0:
        await asyncio.sleep(switches.slow_ms / 1000)
    try:
        check, _ = await asyncio.gather(backends.check(items, simulate),
                                        backends.payment_token(user_token))
        if check.status == 200 and not check.body.get("available", False):
            await asyncio.to_thread(shop.finish_order, oid, "rejected", email)
            return CheckoutOutcome(409, _out_of_stock(oid))
        _expect(check.status, 200, "inventory")
        reserved = await backends.reserve(oid, items, f"{oid}:reserve", simulate)
        if reserved.status == 409:
            await asyncio.to_thread(shop.finish_order, oid, "rejected", email)
            return CheckoutOutcome(409, _out_of_stock(oid))
        _expect(reserved.status, 201, "inventory")
        reservation = str(reserved.body["reservationId"])
        try:
            paid = await backends.charge(user_token, oid, total_cents, f"{oid}:charge", simulate)
        except ServiceDown:
            await backends.release(reservation)
            raise
        if paid.status not in (201, 402):  # refused (401/403): not the customer's fault
            await backends.release(reservation)
            _expect(paid.status, 201, "payment")
        if paid.status == 402:
            await backends.release(reservation)
            await asyncio.to_thread(shop.finish_order, oid, "failed", email)
            return CheckoutOutcome(402, _declined(oid), compensated=True)
    except ServiceDown as down:
        await asyncio.to_thread(shop.abandon_order, oid)
        return CheckoutOutcome(503, {"error": down.code, "orderId": oid,
                                     "message": down.message})
    await asyncio.to_thread(shop.finish_order, oid, "confirmed", email, trace_context())
    return CheckoutOutcome(201, replace(order, status="confirmed").json())


def _expect(status: int, wanted: int, service: str) -> None:
    if status != wanted:
        # A refusal (401/403) or an unexpected answer: the service is unusable for us now.
        raise ServiceDown(f"{service}_refused", f"{service}-service answered {status}")
