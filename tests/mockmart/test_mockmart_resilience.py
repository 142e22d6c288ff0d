"""No notification lost, none sent twice: 200 checkouts through outages of
notification-service and of the identity provider, and two dispatcher replicas on
PostgreSQL. Services run as processes on 127.0.0.1; loops are bounded by deadlines."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockmart.config import REALM_FILE
from mockmart.storage import open_store
from mockmart.system.smtp_sink import read_mailbox
from mockmart.system.stack import short_lifespan_realm

CHECKOUTS = 200


def _checkout(http: httpx.Client, base: str, token: str) -> str:
    response = http.post(base + "/api/checkout", json={"items": ["widget"]},
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["orderId"]
    return order_id


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def _assert_one_email_per_order(stack: Any, orders: list[str]) -> None:
    _wait_for(lambda: stack.mailbox().delivered >= len(orders), 90, f"{len(orders)} e-mails")
    time.sleep(0.5)  # let a stray late duplicate, if there were one, show up
    mails = read_mailbox(stack.mail_dir)
    per_order = Counter(m["X-MockMart-Order"] for m in mails)
    assert sorted(per_order) == sorted(orders)
    assert set(per_order.values()) == {1}
    assert stack.mailbox().duplicates == 0


@pytest.mark.slow
def test_checkouts_survive_notification_service_restart(make_stack: Callable[..., Any]) -> None:
    stack = make_stack()
    alice = stack.user_token()
    orders: list[str] = []
    with httpx.Client(timeout=10) as http:
        for i in range(CHECKOUTS):
            if i == CHECKOUTS // 2:
                stack.notification.stop()
            orders.append(_checkout(http, stack.shop.url, alice))
        down_failures = stack.shop_health()["dispatcher"]["failures"]
        assert stack.shop_health()["outbox"]["pending"] > 0  # undelivered while it is down
        stack.notification.start()
    _assert_one_email_per_order(stack, orders)
    assert down_failures > 0
    _wait_for(lambda: stack.shop_health()["outbox"]["pending"] == 0, 30, "the outbox to drain")
    assert stack.shop_health()["outbox"]["done"] == CHECKOUTS


@pytest.mark.slow
def test_checkouts_survive_the_identity_provider_down_longer_than_a_token_lives(
        make_stack: Callable[..., Any], tmp_path: Path) -> None:
    lifespan = 3
    realm = short_lifespan_realm(REALM_FILE, tmp_path / "realm.json", seconds=lifespan,
                                 clients=("shop-api",))
    stack = make_stack(realm_file=realm)
    alice = stack.user_token()  # storefront keeps the realm's 300 s
    with httpx.Client(timeout=10) as http:
        first = _checkout(http, stack.shop.url, alice)  # shop-api gets its 3 s token
        _wait_for(lambda: stack.mailbox().delivered == 1, 30, "the first e-mail")
        stack.idp.stop()
        time.sleep(lifespan + 0.5)  # real processes, real time: shop-api's token is now dead
        orders = [_checkout(http, stack.shop.url, alice) for _ in range(CHECKOUTS)]
        _wait_for(lambda: stack.shop_health()["dispatcher"]["failures"] > 0, 30,
                  "a delivery to fail for want of a token")
        assert stack.mailbox().delivered == 1  # nothing delivered without a token
        stack.idp.start()
    _assert_one_email_per_order(stack, [first, *orders])
    grants = stack.idp.stats()["token_requests"]["shop-api"]
    assert grants["client_credentials"] >= 2  # a new token after the outage


@pytest.mark.slow
def test_two_dispatcher_replicas_on_postgresql_deliver_each_event_once(
        make_stack: Callable[..., Any], pg_url: str) -> None:
    stack = make_stack(database_url=pg_url, shop_replicas=2)
    alice = stack.user_token()
    orders: list[str] = []
    with httpx.Client(timeout=10) as http:
        for i in range(CHECKOUTS):
            orders.append(_checkout(http, stack.shops[i % 2].url, alice))
    _assert_one_email_per_order(stack, orders)
    _wait_for(lambda: stack.shop_health()["outbox"]["pending"] == 0, 30, "the outbox to drain")
    store = open_store(pg_url)
    by_worker = store.deliveries_by_worker()
    assert len(by_worker) == 2, by_worker  # both replicas took part
    assert sum(len(v) for v in by_worker.values()) == CHECKOUTS
    assert {d for v in by_worker.values() for d in v} == {1}  # no event delivered twice
    requests = Counter(n.requests for n in store.list_notifications() if n.kind == "order")
    assert requests == {1: CHECKOUTS}  # notification-service saw each order once
