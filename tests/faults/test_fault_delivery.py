"""No notification lost or sent twice through SMTP down, notification-service killed
mid-request, the notification database file locked, and the identity provider failing for
longer than shop-api's token lives. MockMart runs as processes on 127.0.0.1; every check
counts the sink's ``.eml`` files and their Message-IDs (``delivery_kit``)."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from delivery_kit import assert_each_order_mailed_once, checkout, wait_for
from fault_kit import soak

from mockmart.config import REALM_FILE
from mockmart.system.stack import short_lifespan_realm

ORDERS = soak(20, 200)
DISPATCH_BATCH = 10
"""Deliveries the dispatcher has in flight at once (mockmart.workers.outbox_dispatcher)."""


def test_smtp_down_keeps_every_notification_and_delivers_each_once_after_recovery(
        make_stack: Callable[..., Any]) -> None:
    stack = make_stack()
    alice = stack.user_token()
    stack.smtp.stop()
    with httpx.Client(timeout=10) as http:
        orders = [checkout(http, stack.shop.url, alice) for _ in range(ORDERS)]
    wait_for(lambda: stack.shop_health()["dispatcher"]["failures"] >= 2, 60,
             "deliveries to fail while SMTP is down")
    assert stack.shop_health()["outbox"]["pending"] == ORDERS  # kept, none lost
    assert stack.mailbox().delivered == 0
    stack.smtp.start()
    assert_each_order_mailed_once(stack, orders)
    wait_for(lambda: stack.shop_health()["outbox"]["pending"] == 0, 60, "the outbox to drain")


def test_notification_service_killed_mid_request_loses_nothing(
        make_stack: Callable[..., Any]) -> None:
    """SIGKILL while deliveries are in flight. The one window SMTP leaves open (sent, not
    yet recorded) repeats such a message after the 30 s lease, with the same Message-ID,
    which the sink files under duplicates/ (see notification_service.app): at most one per
    request in flight, i.e. the dispatcher's batch of 10. Measured: 0 to 3 per kill."""
    stack = make_stack()
    alice = stack.user_token()
    with httpx.Client(timeout=10) as http:
        orders = [checkout(http, stack.shop.url, alice) for _ in range(ORDERS)]
        wait_for(lambda: stack.mailbox().delivered >= 1, 60, "the first e-mail")
        pid = stack.notification.pid
        os.killpg(pid, signal.SIGKILL)  # mid-stream: deliveries are in flight
        stack.notification.stop()
        orders += [checkout(http, stack.shop.url, alice) for _ in range(ORDERS)]
        wait_for(lambda: stack.shop_health()["dispatcher"]["failures"] >= 1, 60,
                 "a delivery to fail while notification-service is dead")
        stack.notification.start()
    assert_each_order_mailed_once(stack, orders, allowed_duplicates=DISPATCH_BATCH)
    wait_for(lambda: stack.shop_health()["outbox"]["pending"] == 0, 60, "the outbox to drain")
    assert stack.shop_health()["outbox"]["done"] == 2 * ORDERS


def test_locked_notification_database_delays_but_loses_and_repeats_nothing(
        make_stack: Callable[..., Any]) -> None:
    stack = make_stack()
    alice = stack.user_token()
    db: Path = stack.run_dir / "notification-service.db"
    lock = sqlite3.connect(db, isolation_level=None, timeout=30)
    locked = threading.Event()
    try:
        lock.execute("BEGIN EXCLUSIVE")  # nobody else may read or write the file now
        locked.set()
        with httpx.Client(timeout=10) as http:
            orders = [checkout(http, stack.shop.url, alice) for _ in range(ORDERS)]
        threading.Event().wait(soak(3, 15))  # deliveries pile up behind the lock
        assert stack.mailbox().delivered == 0
    finally:
        if locked.is_set():
            lock.execute("COMMIT")
        lock.close()
    assert_each_order_mailed_once(stack, orders)
    wait_for(lambda: stack.shop_health()["outbox"]["pending"] == 0, 60, "the outbox to drain")


IDP_FAULTS = [
    pytest.param("http_500", {"status": 500}, id="http_500"),
    pytest.param("http_429", {"status": 429, "retry_after": 1}, id="http_429",
                 marks=pytest.mark.soak),
    pytest.param("slow_5s", {"delay": 5.0}, id="slow_5s", marks=pytest.mark.soak),
]


@pytest.mark.parametrize(("name", "fault"), IDP_FAULTS)
def test_identity_provider_failing_longer_than_a_token_lives_keeps_the_outbox(
        make_stack: Callable[..., Any], tmp_path: Path, name: str, fault: dict[str, Any]) -> None:
    """shop-api's tokens live 3 s; the token endpoint fails for longer (the outage of a
    stopped provider is tests/mockmart's). Deliveries stop for want of a token, the outbox
    keeps them, and all go out once the provider answers again."""
    lifespan = 3
    realm = short_lifespan_realm(REALM_FILE, tmp_path / "realm.json", seconds=lifespan,
                                 clients=("shop-api",))
    stack = make_stack(realm_file=realm)
    alice = stack.user_token()
    with httpx.Client(timeout=10) as http:
        first = checkout(http, stack.shop.url, alice)
        wait_for(lambda: stack.mailbox().delivered == 1, 30, "the first e-mail")
        stack.idp.set_fault("token", **fault)
        threading.Event().wait(lifespan + 0.5)  # real processes: shop-api's token is dead
        orders = [checkout(http, stack.shop.url, alice) for _ in range(ORDERS)]
        wait_for(lambda: stack.shop_health()["dispatcher"]["failures"] > 0, 60,
                 "a delivery to fail for want of a token")
        assert stack.mailbox().delivered == 1
        assert stack.shop_health()["outbox"]["pending"] == ORDERS
        assert stack.idp.stats()["faults_served"]["token"] >= 1
        stack.idp.clear_faults()
    assert_each_order_mailed_once(stack, [first, *orders])
    assert stack.idp.stats()["token_requests"]["shop-api"]["client_credentials"] >= 2
