"""Who may call what: every MockMart endpoint with its allowed and refused callers, over real
sockets against the services running as processes (one system for the whole module)."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import pytest

from mockmart.config import REPO_ROOT
from mockmart.system.demo import _tamper
from mockmart.system.smtp_sink import read_mailbox
from svcauth.caller import ClientConfig, ClientCredentialsSource, PrivateKeyJWT

NO_TOKEN = (401, "No token provided")
INVALID = (401, "Invalid token")
EXPIRED = (401, "Token expired")
NOT_SERVICE = (403, "This endpoint only accepts service account tokens")
UNAUTHORIZED = (403, "Unauthorized service")
SCOPE = (403, "Insufficient scope")
NOT_USER = (403, "This endpoint only accepts user tokens")


@pytest.fixture(scope="module")
def tokens(running_stack: Any) -> dict[str, str | None]:
    stack = running_stack
    inventory = ClientCredentialsSource(ClientConfig(
        client_id="inventory-sync", token_endpoint=stack.idp.token_endpoint,
        auth=PrivateKeyJWT(REPO_ROOT / "deploy" / "dev" / "inventory-sync.key.pem")))
    out: dict[str, str | None] = {
        c: stack.service_token(c)
        for c in ("shop-api", "cart-reminder-job", "payment-provider", "reporting-job")}
    out.update({
        "none": None,
        "alice": stack.user_token(),
        "inventory-sync": inventory.fetch().access_token,
        "expired": stack.idp.mint_token("shop-api", now=time.time() - 3600),
        "tampered": _tamper(stack.idp.mint_token("shop-api")),
    })
    return out


def _call(stack: Any, target: str, method: str, path: str, token: str | None,
          body: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> httpx.Response:
    base = stack.notification.url if target == "notification" else stack.shop.url
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return httpx.request(method, base + path, json=body, headers=h, timeout=10)


def _payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _order_body() -> dict[str, str]:
    return {"orderId": "ord_" + uuid.uuid4().hex[:10], "userEmail": "alice@example.com"}


ORDER = ("notification", "POST", "/api/notifications/order")
REMINDER = ("notification", "POST", "/api/notifications/reminder")
LIST = ("notification", "GET", "/api/notifications")
CHECKOUT = ("shop", "POST", "/api/checkout")
WEBHOOK = ("shop", "POST", "/api/webhooks/payment")

CASES = [
    # notification-service: order e-mails, shop-api only
    (ORDER, "shop-api", (202, None)),
    (ORDER, "cart-reminder-job", UNAUTHORIZED),
    (ORDER, "payment-provider", INVALID),      # its token is not for notification-service
    (ORDER, "reporting-job", UNAUTHORIZED),    # in aud (audience mapper), not allowed
    (ORDER, "inventory-sync", UNAUTHORIZED),   # not on the allow-list (checked before roles)
    (ORDER, "alice", NOT_SERVICE),             # a user token forwarded
    (ORDER, "none", NO_TOKEN),
    (ORDER, "expired", EXPIRED),
    (ORDER, "tampered", INVALID),
    # reminders: cart-reminder-job only
    (REMINDER, "cart-reminder-job", (202, None)),
    (REMINDER, "shop-api", UNAUTHORIZED),
    (REMINDER, "alice", NOT_SERVICE),
    (REMINDER, "none", NO_TOKEN),
    # the log: role notifications:read
    (LIST, "inventory-sync", (200, None)),
    (LIST, "shop-api", SCOPE),
    (LIST, "alice", NOT_SERVICE),
    (LIST, "none", NO_TOKEN),
    # shop-api checkout: storefront users only
    (CHECKOUT, "alice", (201, None)),
    (CHECKOUT, "shop-api", INVALID),           # its aud does not name shop-api
    (CHECKOUT, "payment-provider", NOT_USER),  # aud shop-api, but not a user
    (CHECKOUT, "none", NO_TOKEN),
    (CHECKOUT, "expired", EXPIRED),
    # the payment webhook: payment-provider with shop-api role webhooks:payment
    (WEBHOOK, "payment-provider", (200, None)),
    (WEBHOOK, "shop-api", INVALID),            # not for shop-api (aud)
    (WEBHOOK, "alice", NOT_SERVICE),           # aud shop-api (storefront mapper), a user
    (WEBHOOK, "none", NO_TOKEN),
]


@pytest.mark.parametrize(("route", "caller", "expected"), CASES,
                         ids=[f"{r[2]}-{c}" for r, c, _ in CASES])
def test_endpoint_admits_only_its_callers(running_stack: Any, tokens: dict[str, str | None],
                                          route: tuple[str, str, str], caller: str,
                                          expected: tuple[int, str | None]) -> None:
    target, method, path = route
    body: dict[str, Any] | None = None
    if path.endswith("/order"):
        body = _order_body()
    elif path.endswith("/reminder"):
        body = {"userEmail": "alice@example.com", "cartId": "cart_t"}
    elif path.endswith("/checkout"):
        body = {"items": ["widget"]}
    elif path.endswith("/payment"):
        order = _call(running_stack, *CHECKOUT, tokens["alice"], {"items": []})
        body = {"orderId": order.json()["orderId"], "status": "captured"}
    response = _call(running_stack, target, method, path, tokens[caller], body)
    status, error = expected
    assert response.status_code == status, response.text
    if error is not None:
        assert response.json() == {"error": error}
        challenge = response.headers.get("www-authenticate", "")
        if status == 401:
            assert challenge.startswith("Bearer realm=")
            assert ('error="invalid_token"' in challenge) == (error != NO_TOKEN[1])
        if error == SCOPE[1]:
            assert 'error="insufficient_scope"' in challenge


def test_health_endpoints_need_no_token(running_stack: Any) -> None:
    for base in (running_stack.notification.url, running_stack.shop.url):
        response = httpx.get(base + "/healthz", timeout=5)
        assert (response.status_code, response.json()["status"]) == (200, "ok")


def test_same_order_posted_concurrently_sends_one_email(running_stack: Any,
                                                        tokens: dict[str, str | None]) -> None:
    body = _order_body()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(
            lambda _: _call(running_stack, *ORDER, tokens["shop-api"], body), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}
    fresh = [r for r in responses if r.status_code == 202 and r.json()["duplicate"] is False]
    assert len(fresh) == 1
    again = _call(running_stack, *ORDER, tokens["shop-api"], body)
    assert (again.status_code, again.json()["duplicate"], again.json()["id"]) == (
        202, True, fresh[0].json()["id"])
    mails = [m for m in read_mailbox(running_stack.mail_dir)
             if m["X-MockMart-Order"] == body["orderId"]]
    assert len(mails) == 1


def test_idempotency_key_header_makes_a_repeat_a_duplicate(
        running_stack: Any, tokens: dict[str, str | None]) -> None:
    key = {"Idempotency-Key": "key-" + uuid.uuid4().hex}
    first = _call(running_stack, *ORDER, tokens["shop-api"], _order_body(), key)
    second = _call(running_stack, *ORDER, tokens["shop-api"], _order_body(), key)
    assert (first.status_code, first.json()["duplicate"]) == (202, False)
    assert (second.status_code, second.json()["duplicate"], second.json()["id"]) == (
        202, True, first.json()["id"])


def test_notification_log_says_who_called_and_to_whom(running_stack: Any,
                                                      tokens: dict[str, str | None]) -> None:
    body = _order_body()
    sent = _call(running_stack, *ORDER, tokens["shop-api"], body).json()["id"]
    rows = _call(running_stack, *LIST, tokens["inventory-sync"]).json()["notifications"]
    (row,) = [r for r in rows if r["id"] == sent]
    assert (row["caller"], row["to"], row["orderId"], row["status"], row["requests"]) == (
        "shop-api", "alice@example.com", body["orderId"], "sent", 1)
    token = tokens["shop-api"]
    assert token is not None
    payload = _payload(token)
    claims = row["callerClaims"]
    assert claims == {  # the identity claims it accepted, as the token has them, and only those
        **{name: payload[name] for name in ("azp", "client_id", "aud", "preferred_username",
                                            "resource_access", "scope", "iat", "exp")},
        "realm_access": {"roles": payload["realm_access"]["roles"]}}
    assert (claims["azp"], claims["client_id"], claims["preferred_username"]) == (
        "shop-api", "shop-api", "service-account-shop-api")
    assert "notification-service" in claims["aud"]
    assert claims["resource_access"]["notification-service"] == {"roles": ["notifications:send"]}
    assert claims["exp"] - claims["iat"] == 300
    assert token.rsplit(".", 1)[1] not in str(rows)  # never the token or its signature


def test_scheduled_job_reminds_once_per_run_with_its_own_token(running_stack: Any) -> None:
    def reminders() -> int:
        return sum(1 for m in read_mailbox(running_stack.mail_dir)
                   if m["X-MockMart-Kind"] == "reminder" and m["X-MockMart-Caller"]
                   == "cart-reminder-job" and m["X-MockMart-Cart"] == "cart_alice")

    before = reminders()
    env = {**os.environ, **running_stack.service_env("cart-reminder-job")}
    done = subprocess.run([sys.executable, "-m", "mockmart.system.cli", "job", "cart-reminders",
                           "--every", "0.2", "--runs", "2"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-1000:]
    assert reminders() - before == 2


def test_webhook_for_an_unknown_order_is_404(running_stack: Any,
                                             tokens: dict[str, str | None]) -> None:
    response = _call(running_stack, *WEBHOOK, tokens["payment-provider"],
                     {"orderId": "ord_nope", "status": "captured"})
    assert (response.status_code, response.json()) == (404, {"error": "unknown_order"})
