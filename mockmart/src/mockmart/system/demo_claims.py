"""The demo's "who called" step: notification-service's log, read by inventory-sync.

inventory-sync (``private_key_jwt``, role ``notifications:read``) lists the notifications; the
first order notification carries the identity claims notification-service accepted from
shop-api's service token, which the demo prints and checks. shop-api's token is never fetched
again for this: the claims come from the record the receiver kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from mockmart.config import MockMartConfig
from mockmart.security import service_token_source
from svcauth.httpx import BearerAuth

__all__ = ["HEADING", "READER", "shop_api_claim_problems", "show_shop_api_token_claims"]

READER = "inventory-sync"
"""The client that reads the log: it holds ``notifications:read`` and uses private_key_jwt."""
HEADING = "shop-api's service token, as notification-service verified it:"
"""The line above the printed claims."""


def shop_api_claim_problems(claims: Mapping[str, Any] | None,
                            caller: str = "shop-api") -> list[str]:
    """What is wrong with the recorded claims of ``caller``'s token (shop-api's; the
    order-events worker's when the events go through the broker); empty: as the realm says."""
    if not claims:
        return ["no caller claims were recorded with the first order notification"]
    problems = []
    if not claims.get("azp") == claims.get("client_id") == caller:
        problems.append(f"azp/client_id are {claims.get('azp')!r}/{claims.get('client_id')!r}, "
                        f"expected {caller!r}")
    if claims.get("preferred_username") != f"service-account-{caller}":
        problems.append(f"preferred_username is {claims.get('preferred_username')!r}, "
                        f"expected 'service-account-{caller}'")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if "notification-service" not in audiences:
        problems.append(f"aud {aud!r} does not name notification-service")
    access = claims.get("resource_access")
    roles = (access.get("notification-service") or {}).get("roles") if isinstance(
        access, Mapping) else None
    if roles != ["notifications:send"]:
        problems.append(f"resource_access.notification-service.roles is {roles!r}, "
                        "expected ['notifications:send']")
    return problems


def _first_order(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    orders = [r for r in rows if r.get("kind") == "order"]
    return min(orders, key=lambda r: (r["createdAt"], r["id"])) if orders else None


def show_shop_api_token_claims(stack: Any, result: Any, say: Callable[[str], None]) -> None:
    """List the notifications as inventory-sync, then say and check (``data
    ["shop_api_token_claims"]``) the claims recorded with the first order notification."""
    assert stack.notification is not None
    tokens = service_token_source(MockMartConfig.from_env(stack.service_env(READER)))
    with httpx.Client(auth=BearerAuth(tokens), timeout=10) as reader:
        response = reader.get(stack.notification.url + "/api/notifications")
    result.expect(response.status_code == 200,
                  f"{READER} listing the notifications got HTTP {response.status_code}")
    rows: list[dict[str, Any]] = (response.json().get("notifications", [])
                                  if response.status_code == 200 else [])
    first = _first_order(rows)
    claims = first.get("callerClaims") if first else None
    result.data["notifications_listed"] = {"reader": READER, "status": response.status_code,
                                           "count": len(rows)}
    result.data["shop_api_token_claims"] = claims
    caller = "order-events-worker" if getattr(stack, "broker", None) is not None else "shop-api"
    result.data["notification_caller"] = caller
    for problem in shop_api_claim_problems(claims, caller):
        result.expect(False, problem)
    say(f"{READER} (private_key_jwt, role notifications:read) listed {len(rows)} notifications: "
        f"HTTP {response.status_code}")
    if first is None or not claims:
        return
    say(f"first order notification: {first['id']} (order {first['orderId']}, caller "
        f"{first['caller']})")
    say(HEADING if caller == "shop-api" else HEADING.replace("shop-api", caller))
    for line in json.dumps(claims, indent=2).splitlines():
        say("    " + line)
