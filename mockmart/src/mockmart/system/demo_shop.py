"""The demo's shop part: mario's checkouts fan out to inventory and payment (by roles), a
retried checkout charges once, a simulated payment failure is compensated, and refusals by
role at each service; then calls and refusals per service and token requests per audience.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from mockmart.config import MockMartConfig
from mockmart.security import service_token_source

__all__ = ["report_shop"]

Say = Callable[[str], None]


def _checkout(http: httpx.Client, url: str, token: str, key: str) -> httpx.Response:
    return http.post(url + "/api/checkout", headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": key},
        json={"items": [{"productId": 1, "quantity": 2}, {"productId": 3, "quantity": 1}]})


def _switch(http: httpx.Client, url: str, admin: str, **values: Any) -> int:
    return http.put(url + "/api/admin/switches", json=values,
                    headers={"Authorization": f"Bearer {admin}"}).status_code


def report_shop(stack: Any, r: Any, say: Say) -> int:
    """Play and report the fan-out (``r`` is the demo's :class:`~mockmart.system.demo.DemoResult`);
    returns how many orders it confirmed (each one more ``order.completed`` event)."""
    shop = stack.shop.url
    mario = stack.user_token("mario", "MARIO_PASSWORD")
    admin = stack.user_token("admin", "ADMIN_PASSWORD")
    blocked = stack.user_token("blocked", "BLOCKED_PASSWORD")
    out: dict[str, Any] = {}
    with httpx.Client(timeout=20) as http:
        key = f"demo-{uuid.uuid4()}"
        first, retry = _checkout(http, shop, mario, key), _checkout(http, shop, mario, key)
        out["checkout"] = {"status": first.status_code, "retry_status": retry.status_code,
                           "same_answer": first.json() == retry.json()}
        r.expect(first.status_code == 201 and first.json() == retry.json(),
                 f"mario's checkout and its retry: {first.status_code}/{retry.status_code}")
        say(f"mario checks out (2 products, Idempotency-Key) -> {first.status_code} "
            f"{first.json().get('status')}; the retry with the same key -> {retry.status_code}, "
            "the same order, no second reservation, charge or e-mail")
        refused = _checkout(http, shop, blocked, f"demo-{uuid.uuid4()}")
        out["blocked"] = {"status": refused.status_code, "error": refused.json().get("error")}
        r.expect(refused.status_code == 403, f"blocked's checkout answered {refused.status_code}")
        say(f"blocked checks out -> {refused.status_code} {refused.json().get('error')}")
        before = stack.service_health("inventory-service")["stock"]
        r.expect(_switch(http, shop, admin, payment_fails=True) == 200, "switch refused")
        failed = _checkout(http, shop, mario, f"demo-{uuid.uuid4()}")
        _switch(http, shop, admin, payment_fails=False)
        after = stack.service_health("inventory-service")["stock"]
        released = after["released"] - before["released"]
        out["compensation"] = {"status": failed.status_code,
                               "error": failed.json().get("error"),
                               "reservations_released": released}
        r.expect(failed.status_code == 402 and released == 1,
                 f"payment failure: {failed.status_code}, {released} reservations released")
        say(f"admin turns 'payment fails' on; mario's checkout -> {failed.status_code} "
            f"{failed.json().get('error')}: the reservation was released ({released}), the "
            "order marked failed")
        _refusals_by_role(stack, http, out, r)
    per_service = {name: stack.service_health(name) for name in stack.backends}
    shop_health = stack.shop_health()
    out["services"] = {name: {"calls": h["calls"], "refusals": h["refusals"],
                              "jwks_fetches": h["jwks_fetches"]} for name, h in per_service.items()}
    out["token_requests_per_audience"] = {
        "notification-service + inventory-service (shop-api's one client-credentials token)":
            shop_health.get("token_fetches"),
        "payment-service (token exchange, DPoP-bound, per user token)":
            shop_health.get("exchange_fetches"),
    }
    for name, h in out["services"].items():
        say(f"{name}: calls {h['calls']}, refusals {h['refusals']}, JWKS fetches "
            f"{h['jwks_fetches']}")
    say(f"token requests per audience: {out['token_requests_per_audience']}")
    r.data["shop"] = out
    return 1 if first.status_code == 201 else 0


def _refusals_by_role(stack: Any, http: httpx.Client, out: dict[str, Any], r: Any) -> None:
    """A service client without the roles, at inventory and payment."""
    inventory = stack.backends["inventory-service"].url
    payment = stack.backends["payment-service"].url
    reminder = service_token_source(
        MockMartConfig.from_env(stack.service_env("cart-reminder-job"))).token()
    cases: dict[str, Any] = {}
    answer = http.post(payment + "/api/payments", json={"orderId": "x", "amount_cents": 1},
                       headers={"Authorization": f"Bearer {reminder}", "Idempotency-Key": "x"})
    cases["cart-reminder-job at payment (Bearer)"] = [answer.status_code,
                                                      answer.json().get("code")]
    r.expect(answer.status_code == 401, f"payment answered {answer.status_code} to a Bearer token")
    if stack.dev:  # a token valid for inventory's audience, without its roles
        token = stack.idp.mint_token("reporting-job", extra_claims={"aud": "inventory-service"})
        answer = http.post(inventory + "/api/inventory/reservations",
                           json={"orderId": "x", "items": [{"productId": 1, "quantity": 1}]},
                           headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "x"})
        cases["reporting-job at inventory (no inventory:reserve)"] = [
            answer.status_code, answer.json().get("code")]
        r.expect(answer.status_code == 403, f"inventory answered {answer.status_code} "
                                            "to a caller without its role")
    out["refusals_by_role"] = cases
