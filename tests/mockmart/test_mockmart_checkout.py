"""MockMart's checkout fan-out over real sockets: shop-api -> inventory-service (check,
reserve, release) and payment-service (exchanged, DPoP-bound token), then the outbox e-mail.
One demo-mode system per module (its switches are the admin's), on both identity providers.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from svcauth.caller import DPoPKey

WIDGET, JAR = 1, 3  # seeded products: 1999 and 1250 cents


@pytest.fixture(scope="module")
def shop_stack(tmp_path_factory: pytest.TempPathFactory, mockmart_idp: str,
               request: pytest.FixtureRequest) -> Iterator[Any]:
    """A demo-mode MockMart (failure switches on for the admin)."""
    from mockmart.system.stack import Stack, StackOptions

    stack = Stack(StackOptions(run_dir=tmp_path_factory.mktemp("shop"), retry_max_delay=1.0,
                               demo=True))
    if mockmart_idp == "keycloak":
        stack.idp = request.getfixturevalue("mockmart_keycloak")
    with stack:
        yield stack


@pytest.fixture(scope="module")
def users(shop_stack: Any) -> dict[str, str]:
    return {name: shop_stack.user_token(name, f"{name.upper()}_PASSWORD")
            for name in ("mario", "admin", "blocked")}


def _auth(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _checkout(stack: Any, token: str, items: list[Any], key: str | None = None) -> httpx.Response:
    return httpx.post(stack.shop.url + "/api/checkout", json={"items": items},
                      headers=_auth(token, key), timeout=30)


def _switches(stack: Any, token: str, **values: Any) -> httpx.Response:
    return httpx.put(stack.shop.url + "/api/admin/switches", json=values,
                     headers=_auth(token), timeout=10)


def _wait_mail(stack: Any, count: int) -> None:
    deadline = time.monotonic() + 60
    while stack.mailbox().delivered < count:
        assert time.monotonic() < deadline, f"expected {count} e-mails, found {stack.mailbox()}"
        time.sleep(0.1)


def _ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


# -- the catalog -------------------------------------------------------------------------

def test_catalog_lists_searches_and_filters_without_a_token(shop_stack: Any) -> None:
    base = shop_stack.shop.url
    everything = httpx.get(base + "/api/products", timeout=10)
    assert everything.status_code == 200
    body = everything.json()
    assert body["categories"] == ["gadgets", "kitchen", "outdoor"]
    assert {k: body["products"][0][k]
                                     for k in ("id", "name", "category", "price_cents")} == {"id": 1, "name": "Mock Widget", "category": "gadgets",
            "price_cents": 1999}
    found = httpx.get(base + "/api/products", params={"q": "JWKS"}, timeout=10).json()
    assert [p["id"] for p in found["products"]] == [JAR]
    outdoor = httpx.get(base + "/api/products", params={"category": "outdoor"}, timeout=10)
    assert {p["category"] for p in outdoor.json()["products"]} == {"outdoor"}
    missing = httpx.get(base + "/api/products/99999", timeout=10)
    assert (missing.status_code, missing.json()["error"]) == (404, "unknown_product")


def test_only_the_admin_role_edits_products(shop_stack: Any, users: dict[str, str]) -> None:
    base = shop_stack.shop.url
    body = {"name": "Nonce Necklace", "description": "Worn once.", "category": "gadgets",
            "price_cents": 999}
    refused = httpx.post(base + "/api/products", json=body, headers=_auth(users["mario"]),
                         timeout=10)
    assert (refused.status_code, refused.json()["error"]) == (403, "Insufficient scope")
    anonymous = httpx.post(base + "/api/products", json=body, timeout=10)
    assert anonymous.status_code == 401
    created = httpx.post(base + "/api/products", json=body, headers=_auth(users["admin"]),
                         timeout=10)
    assert created.status_code == 201
    pid = created.json()["id"]
    edited = httpx.put(base + f"/api/products/{pid}", json={**body, "price_cents": 1099},
                       headers=_auth(users["admin"]), timeout=10)
    assert (edited.status_code, edited.json()["price_cents"]) == (200, 1099)
    assert httpx.get(base + f"/api/products/{pid}", timeout=10).json()["price_cents"] == 1099
    unknown = httpx.put(base + "/api/products/99999", json=body, headers=_auth(users["admin"]),
                        timeout=10)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_product")


# -- checkout ----------------------------------------------------------------------------

def test_checkout_fans_out_and_is_idempotent_under_retries(shop_stack: Any,
                                                           users: dict[str, str]) -> None:
    stack = shop_stack
    inventory0 = stack.service_health("inventory-service")
    payment0 = stack.service_health("payment-service")
    mail0 = stack.mailbox().delivered
    events0 = stack.shop_health()["outbox"]
    items = [{"productId": WIDGET, "quantity": 2}, {"productId": str(JAR), "quantity": 1}]
    key = f"retry-{uuid.uuid4()}"
    first = _checkout(stack, users["mario"], items, key)
    assert first.status_code == 201, first.text
    order = first.json()
    assert (order["status"], order["total_cents"]) == ("confirmed", 2 * 1999 + 1250)
    assert [(i["productId"], i["quantity"]) for i in order["items"]] == [(WIDGET, 2), (JAR, 1)]
    again = _checkout(stack, users["mario"], items, key)
    assert (again.status_code, again.json()) == (201, order)
    assert again.headers["Idempotent-Replayed"] == "true"
    _wait_mail(stack, mail0 + 1)
    inventory = stack.service_health("inventory-service")
    payment = stack.service_health("payment-service")
    assert inventory["stock"]["reservations"] == inventory0["stock"]["reservations"] + 1
    assert payment["payments"]["captured"] == payment0["payments"]["captured"] + 1
    events = stack.shop_health()["outbox"]  # one order.completed event: one e-mail
    assert (events["done"] + events["pending"]) == (events0["done"] + events0["pending"] + 1)
    mine = httpx.get(stack.shop.url + "/api/orders", headers=_auth(users["mario"]), timeout=10)
    assert order["orderId"] in [o["orderId"] for o in mine.json()["orders"]]
    theirs = httpx.get(stack.shop.url + "/api/orders", headers=_auth(users["admin"]), timeout=10)
    assert order["orderId"] not in [o["orderId"] for o in theirs.json()["orders"]]


def test_a_user_whose_can_checkout_is_false_is_refused(shop_stack: Any,
                                                       users: dict[str, str]) -> None:
    refused = _checkout(shop_stack, users["blocked"], [{"productId": WIDGET, "quantity": 1}])
    assert refused.status_code == 403
    assert refused.json()["error"] == "checkout_not_allowed"
    assert "canCheckout" in refused.json()["message"]


@pytest.mark.parametrize(("items", "status", "error"), [
    ([{"productId": 99999, "quantity": 1}], 404, "unknown_product"),
    ([{"productId": "widget", "quantity": 1}], 404, "unknown_product"),
    ([{"productId": WIDGET, "quantity": 1}, "widget"], 422, "invalid_items"),
])
def test_bad_carts_are_refused_before_any_service_call(shop_stack: Any, users: dict[str, str],
                                                       items: list[Any], status: int,
                                                       error: str) -> None:
    before = shop_stack.service_health("inventory-service")["calls"]
    answer = _checkout(shop_stack, users["mario"], items)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert shop_stack.service_health("inventory-service")["calls"] == before


def test_out_of_stock_switch_refuses_with_409(shop_stack: Any, users: dict[str, str]) -> None:
    assert _switches(shop_stack, users["admin"], out_of_stock=True).status_code == 200
    try:
        key = f"oos-{uuid.uuid4()}"
        answer = _checkout(shop_stack, users["mario"], [{"productId": WIDGET, "quantity": 1}], key)
        assert (answer.status_code, answer.json()["error"]) == (409, "out_of_stock")
        again = _checkout(shop_stack, users["mario"], [{"productId": WIDGET, "quantity": 1}], key)
        assert (again.status_code, again.json()) == (409, answer.json())
    finally:
        assert _switches(shop_stack, users["admin"], out_of_stock=False).status_code == 200


def test_a_failed_payment_releases_the_reservation_and_fails_the_order(
        shop_stack: Any, users: dict[str, str]) -> None:
    stack = shop_stack
    before = stack.service_health("inventory-service")["stock"]
    declined0 = stack.service_health("payment-service")["payments"]["declined"]
    events0 = stack.shop_health()["outbox"]
    assert _switches(stack, users["admin"], payment_fails=True).json()["payment_fails"] is True
    try:
        key = f"pay-{uuid.uuid4()}"
        answer = _checkout(stack, users["mario"], [{"productId": JAR, "quantity": 1}], key)
        assert (answer.status_code, answer.json()["error"]) == (402, "payment_failed")
        order_id = answer.json()["orderId"]
        again = _checkout(stack, users["mario"], [{"productId": JAR, "quantity": 1}], key)
        assert (again.status_code, again.json()) == (402, answer.json())
    finally:
        assert _switches(stack, users["admin"], payment_fails=False).status_code == 200
    after = stack.service_health("inventory-service")["stock"]
    assert after == {"reservations": before["reservations"] + 1,
                     "released": before["released"] + 1}
    assert stack.service_health("payment-service")["payments"]["declined"] == declined0 + 1
    orders = httpx.get(stack.shop.url + "/api/orders", headers=_auth(users["mario"]),
                       timeout=10).json()["orders"]
    assert [o["status"] for o in orders if o["orderId"] == order_id] == ["failed"]
    assert stack.shop_health()["compensations"] >= 1
    events = stack.shop_health()["outbox"]  # no order.completed event for a failed order
    assert events["done"] + events["pending"] == events0["done"] + events0["pending"]


# -- switches: admin only ----------------------------------------------------------------

def test_switches_are_the_admins_only(shop_stack: Any, users: dict[str, str]) -> None:
    base = shop_stack.shop.url
    for name in ("mario", "blocked"):
        got = httpx.get(base + "/api/admin/switches", headers=_auth(users[name]), timeout=10)
        put = _switches(shop_stack, users[name], payment_fails=True)
        assert (got.status_code, put.status_code) == (403, 403)
    assert httpx.get(base + "/api/admin/switches", timeout=10).status_code == 401
    seen = httpx.get(base + "/api/admin/switches", headers=_auth(users["admin"]), timeout=10)
    assert seen.json() == {"out_of_stock": False, "payment_fails": False, "slow_ms": 0}


def test_switches_do_not_exist_outside_demo_mode(running_stack: Any) -> None:
    admin = running_stack.user_token("admin", "ADMIN_PASSWORD")
    for method in ("GET", "PUT"):
        answer = httpx.request(method, running_stack.shop.url + "/api/admin/switches",
                               json={"payment_fails": True}, headers=_auth(admin), timeout=10)
        assert (answer.status_code, answer.json()["error"]) == (404, "not_found")


# -- role refusals at each service -------------------------------------------------------

@pytest.mark.parametrize(("path", "body"), [
    ("/api/inventory/check", {"items": [{"productId": 1, "quantity": 1}]}),
    ("/api/inventory/reservations", {"orderId": "o1", "items": [{"productId": 1, "quantity": 1}]}),
    ("/api/inventory/reservations/res_x/release", None),
])
def test_inventory_refuses_a_service_without_its_roles(shop_stack: Any, path: str,
                                                       body: Any) -> None:
    # reporting-job holds no inventory role; its token is made valid for inventory's audience.
    token = shop_stack.idp.mint_token("reporting-job", extra_claims={"aud": "inventory-service"})
    answer = httpx.post(shop_stack.backends["inventory-service"].url + path, json=body,
                        headers={**_auth(token), "Idempotency-Key": "k"}, timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (403, "insufficient_scope")


def test_inventory_admits_a_role_holder_whatever_its_client_id(shop_stack: Any) -> None:
    # Roles decide, not the caller's id: reporting-job *with* inventory:read is let in.
    token = shop_stack.idp.mint_token("reporting-job", extra_claims={
        "aud": "inventory-service",
        "resource_access": {"inventory-service": {"roles": ["inventory:read"]}}})
    answer = httpx.post(shop_stack.backends["inventory-service"].url + "/api/inventory/check",
                        json={"items": [{"productId": 1, "quantity": 1}]}, headers=_auth(token),
                        timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"available": True, "missing": []})


def _dpop_call(stack: Any, token: str, key: DPoPKey) -> httpx.Response:
    url = stack.backends["payment-service"].url + "/api/payments"
    return httpx.post(url, json={"orderId": "o1", "amount_cents": 100}, timeout=10, headers={
        "Authorization": f"DPoP {token}", "DPoP": key.proof("POST", url, ath=_ath(token)),
        "Idempotency-Key": f"k-{uuid.uuid4()}"})


def test_payment_refuses_service_tokens_and_users_without_the_role(shop_stack: Any,
                                                                   users: dict[str, str]) -> None:
    stack = shop_stack
    key = DPoPKey.generate()
    bound = {"aud": "payment-service", "cnf": {"jkt": key.jkt}}
    service = stack.idp.mint_token("cart-reminder-job", extra_claims=bound)
    answer = _dpop_call(stack, service, key)
    assert (answer.status_code, answer.json()["code"]) == (403, "not_user_token")
    mario_sub = _claims(users["mario"])["sub"]
    no_role = stack.idp.mint_token("shop-api", extra_claims={
        **bound, "client_id": None, "sub": mario_sub, "resource_access": {}})
    answer = _dpop_call(stack, no_role, key)
    assert (answer.status_code, answer.json()["code"]) == (403, "insufficient_scope")
    # mario's own storefront token is not for payment-service's audience, nor DPoP-bound.
    direct = httpx.post(stack.backends["payment-service"].url + "/api/payments",
                        json={"orderId": "o1", "amount_cents": 1},
                        headers={**_auth(users["mario"]), "Idempotency-Key": "k"}, timeout=10)
    assert (direct.status_code, direct.json()["code"]) == (401, "dpop_required")


def _claims(token: str) -> dict[str, Any]:
    import json

    payload = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return result


def test_every_api_serves_its_openapi_with_the_bearer_scheme_and_docs_offline(
        shop_stack: Any) -> None:
    apis = {"shop-api": shop_stack.shop.url, "notification-service": shop_stack.notification.url,
            **{name: proc.url for name, proc in shop_stack.backends.items()}}
    assert set(apis) == {"shop-api", "notification-service", "inventory-service",
                         "payment-service"}
    for name, url in apis.items():
        spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
        schemes = spec["components"]["securitySchemes"]
        assert {(s["type"], s["scheme"], s["bearerFormat"]) for s in schemes.values()} == {
            ("http", "bearer", "JWT")}, (name, schemes)
        secured = [op for path in spec["paths"].values() for op in path.values()
                   if op.get("security")]
        assert secured and all(next(iter(op["security"][0])) in schemes for op in secured), name
        page = httpx.get(f"{url}/docs", timeout=10)
        assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text, name
        assert "cdn." not in page.text and "//unpkg" not in page.text, name  # nothing remote
        bundle = httpx.get(f"{url}/docs/assets/swagger-ui-bundle.js", timeout=10)
        assert bundle.status_code == 200 and len(bundle.content) > 100_000, name
