"""Helpers of the MockMart fault tests: checkouts, waiting on a deadline, and the
"no notification lost or sent twice" check by counting ``.eml`` files and Message-IDs."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from mockmart.system.smtp_sink import read_mailbox


def checkout(http: httpx.Client, base: str, token: str) -> str:
    """One checkout as alice; its order id (201 expected)."""
    response = http.post(base + "/api/checkout", json={"items": ["widget"]},
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["orderId"]
    return order_id


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.1 s until true; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def assert_each_order_mailed_once(stack: Any, orders: list[str], *,
                                  allowed_duplicates: int = 0) -> None:
    """Every order has exactly one filed e-mail, every Message-ID is distinct, and at most
    ``allowed_duplicates`` repeated deliveries (same Message-ID) reached the sink."""
    wait_for(lambda: stack.mailbox().delivered >= len(orders), 120, f"{len(orders)} e-mails")
    time.sleep(0.5)  # a stray late duplicate, if there were one, shows up now
    mails = read_mailbox(stack.mail_dir)
    eml = list(stack.mail_dir.glob("*.eml"))
    per_order = Counter(m["X-MockMart-Order"] for m in mails)
    ids = Counter(m["Message-ID"] for m in mails)
    assert len(eml) == len(orders)
    assert sorted(per_order) == sorted(orders)
    assert set(per_order.values()) == {1}
    assert len(ids) == len(orders) and set(ids.values()) == {1}
    repeated = Counter(m["Message-ID"] for m in read_mailbox(stack.mail_dir, duplicates=True))
    assert set(repeated) <= set(ids)  # a repeat is always of a message already filed
    duplicates = stack.mailbox().duplicates
    assert duplicates <= allowed_duplicates, f"{duplicates} repeated deliveries (same Message-ID)"
