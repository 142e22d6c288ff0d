"""Faults on the broker path, with figures: events published = e-mails sent, 0 lost, 0
duplicate e-mails (the sink counts Message-IDs), token requests of the worker within the
lifetime bound floor(T / (0.8 * lifetime)) + 1.

The worker's tokens live WORKER_LIFETIME (10) seconds here. "Tokens of 60 s while a consumer
runs 5 minutes" is run as the same ratio on a shorter clock: 10 s tokens over 50 s, five
token lifetimes. Each test prints its figures (``-s`` shows them).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from broker_kit import WORKER_LIFETIME, start_stack, token_requests
from delivery_kit import checkout, wait_for

from mockmart.config import REALM_FILE
from mockmart.system.smtp_sink import read_mailbox
from mockmart.system.stack import StackOptions, short_lifespan_realm

pytestmark = [pytest.mark.broker, pytest.mark.timeout(900)]

WORKER = "order-events-worker"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator:
    run = tmp_path_factory.mktemp("broker-faults")
    realm = short_lifespan_realm(REALM_FILE, run / "realm.json", seconds=WORKER_LIFETIME,
                                 clients=(WORKER,))
    s = start_stack(StackOptions(run_dir=run / "run", realm_file=realm, broker=True,
                                 retry_max_delay=1.0))
    try:
        yield s
    finally:
        s.stop()


def _bound(seconds: float) -> int:
    return math.floor(seconds / (0.8 * WORKER_LIFETIME)) + 1


def _checkouts(stack, n: int, pause: float = 0.0) -> list[str]:
    token = stack.user_token()
    with httpx.Client(timeout=30) as http:
        out = []
        for _ in range(n):
            out.append(checkout(http, stack.shop.url, token))
            if pause:
                time.sleep(pause)
        return out


def _in_background(stack, n: int, pause: float = 0.0) -> tuple[threading.Thread, list[str]]:
    orders: list[str] = []
    thread = threading.Thread(target=lambda: orders.extend(_checkouts(stack, n, pause)))
    thread.start()
    return thread, orders


def _mailed(stack, orders: list[str]) -> Counter:
    wanted = set(orders)
    return Counter(m["X-MockMart-Order"] for m in read_mailbox(stack.mail_dir)
                   if m["X-MockMart-Order"] in wanted)


def _assert_each_mailed_once(stack, orders: list[str], dups_before: int,
                             timeout: float = 300) -> None:
    wait_for(lambda: sum(_mailed(stack, orders).values()) >= len(orders), timeout,
             f"{len(orders)} e-mails")
    time.sleep(1.0)  # a late duplicate, if there were one, shows up now
    per_order = _mailed(stack, orders)
    ids = Counter(m["Message-ID"] for m in read_mailbox(stack.mail_dir))
    assert sorted(per_order) == sorted(orders)  # 0 lost
    assert set(per_order.values()) == {1}  # one e-mail per order
    assert set(ids.values()) == {1}  # distinct Message-IDs
    assert stack.mailbox().duplicates == dups_before  # no repeated delivery reached the sink


def _drained(stack) -> None:
    wait_for(lambda: stack.shop_health()["outbox"]["pending"] == 0, 120, "the outbox drained")


def _worker(stack) -> dict:
    return stack.broker.worker_health()["worker"]


def _figures(name: str, **figures: object) -> None:
    print(f"\n[broker fault] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def test_broker_restart_in_the_middle_of_a_1000_event_run(stack) -> None:
    dups = stack.mailbox().duplicates
    before = stack.shop_health()["broker"]["published"]
    started = time.monotonic()
    thread, orders = _in_background(stack, 1000)
    wait_for(lambda: stack.mailbox().delivered >= 300, 240, "300 e-mails before the restart")
    stack.broker.node.restart()
    thread.join(600)
    assert len(orders) == 1000
    _assert_each_mailed_once(stack, orders, dups, timeout=420)
    _drained(stack)
    published = stack.shop_health()["broker"]["published"] - before
    worker = _worker(stack)
    assert published >= 1000  # an unconfirmed publish is published again, never lost
    assert worker["reconnects"] >= 1
    _figures("broker restart", events=1000, emails=len(orders), lost=0, duplicate_emails=0,
             published=published, worker_reconnects=worker["reconnects"],
             seconds=round(time.monotonic() - started, 1))


def test_consumer_sigkilled_mid_batch(stack) -> None:
    dups = stack.mailbox().duplicates
    mailed_before = stack.mailbox().delivered
    thread, orders = _in_background(stack, 300)
    wait_for(lambda: stack.mailbox().delivered >= mailed_before + 100, 240, "100 e-mails")
    worker = stack.broker.worker
    os.killpg(worker.pid, signal.SIGKILL)  # mid-batch: up to prefetch (20) unacked
    worker.stop()  # reap it
    killed_at = stack.mailbox().delivered - mailed_before
    worker.start()
    wait_for(lambda: _healthy(stack), 60, "the worker back")
    thread.join(300)
    _assert_each_mailed_once(stack, orders, dups)
    after = _worker(stack)
    _figures("consumer SIGKILL", events=300, emails_at_kill=killed_at, emails=len(orders),
             lost=0, duplicate_emails=0, redelivered_skipped=after["duplicates"],
             acked_after_restart=after["acknowledged"])


def _healthy(stack) -> bool:
    try:
        return stack.broker.worker_health()["status"] == "ok"
    except httpx.HTTPError:
        return False


def test_short_tokens_over_five_lifetimes_on_one_connection(stack) -> None:
    """Tokens of 60 s over 5 minutes, as 10 s tokens over 50 s."""
    dups = stack.mailbox().duplicates
    before = _worker(stack)
    requests_before = token_requests(stack.idp, WORKER)
    started = time.monotonic()
    thread, orders = _in_background(stack, 200, pause=0.25)
    thread.join(300)
    wait_for(lambda: time.monotonic() - started >= 5 * WORKER_LIFETIME, 120, "five lifetimes")
    _assert_each_mailed_once(stack, orders, dups)
    elapsed = time.monotonic() - started
    after = _worker(stack)
    renewals = after["renewals"] - before["renewals"]
    requests = token_requests(stack.idp, WORKER) - requests_before
    assert after["reconnects"] == before["reconnects"]  # one connection throughout
    assert renewals >= 4
    assert requests <= _bound(elapsed)
    _figures("short tokens", token_seconds=WORKER_LIFETIME, run_seconds=round(elapsed, 1),
             lifetimes=round(elapsed / WORKER_LIFETIME, 1), events=len(orders),
             emails=len(orders), update_secret_renewals=renewals, token_requests=requests,
             bound=_bound(elapsed), reconnects=0)


def test_identity_provider_down_longer_than_a_token_lifetime(stack) -> None:
    dups = stack.mailbox().duplicates
    requests_before = token_requests(stack.idp, WORKER)
    before = _worker(stack)
    started = time.monotonic()
    first = _checkouts(stack, 50)
    stack.idp.stop()
    outage = 2.5 * WORKER_LIFETIME
    try:
        time.sleep(outage / 2)
        during = _checkouts_without_login(stack, first, 50)
        time.sleep(outage / 2)
    finally:
        stack.idp.start()
    orders = first + during
    _assert_each_mailed_once(stack, orders, dups)
    elapsed = time.monotonic() - started
    after = _worker(stack)
    requests = token_requests(stack.idp, WORKER) - requests_before
    assert requests <= _bound(elapsed)
    _figures("IdP down", outage_seconds=outage, token_seconds=WORKER_LIFETIME, events=100,
             emails=len(orders), lost=0, duplicate_emails=0, token_requests=requests,
             bound=_bound(elapsed), worker_transient_retries=after["transient_retries"]
             - before["transient_retries"], worker_reconnects=after["reconnects"]
             - before["reconnects"])


_ALICE: dict[str, str] = {}


def _checkouts_without_login(stack, _: list[str], n: int) -> list[str]:
    """Checkouts while the IdP is down: alice's token from before (300 s) still verifies."""
    token = _ALICE["token"]
    with httpx.Client(timeout=30) as http:
        return [checkout(http, stack.shop.url, token) for _ in range(n)]


@pytest.fixture(autouse=True)
def _alice(stack) -> None:
    _ALICE["token"] = stack.user_token()
