"""cart-reminder-job: a scheduled job that reminds users of abandoned carts.

It runs without any user: each run calls notification-service's
``/api/notifications/reminder`` with the job's *own* service token (client
``cart-reminder-job``, role ``notifications:send``), one request per abandoned cart, with an
``Idempotency-Key`` of cart and run so that a retried run never reminds twice.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from svcauth import TokenError

__all__ = ["ABANDONED_CARTS", "ReminderResult", "run_every", "run_once"]

log = logging.getLogger("mockmart.workers.cart_reminders")

ABANDONED_CARTS: tuple[tuple[str, str], ...] = (("cart_alice", "alice@example.com"),)
"""(cart id, e-mail) of the carts to remind about: MockMart does not model carts further."""


@dataclass(frozen=True)
class ReminderResult:
    """The outcome of one reminder request."""

    cart_id: str
    """The cart reminded about."""
    status: int
    """notification-service's HTTP status (0: unreachable)."""
    notification_id: str | None
    """The notification id on 202."""


def run_once(client: httpx.Client, *, run_id: str | None = None,
             carts: Sequence[tuple[str, str]] = ABANDONED_CARTS) -> list[ReminderResult]:
    """One run: a reminder per abandoned cart. ``client`` has the base URL and the auth."""
    run = run_id or uuid.uuid4().hex[:12]
    results = []
    for cart_id, email in carts:
        try:
            response = client.post("/api/notifications/reminder",
                                   json={"userEmail": email, "cartId": cart_id},
                                   headers={"Idempotency-Key": f"reminder:{cart_id}:{run}"})
        except httpx.HTTPError as exc:
            log.warning("reminder for %s: notification-service unreachable (%s)", cart_id,
                        type(exc).__name__)
            results.append(ReminderResult(cart_id, 0, None))
            continue
        except TokenError as exc:
            log.warning("reminder for %s: no service token (%s)", cart_id, exc.code)
            results.append(ReminderResult(cart_id, 0, None))
            continue
        body = response.json() if response.status_code == 202 else {}
        results.append(ReminderResult(cart_id, response.status_code, body.get("id")))
    return results


def run_every(client: httpx.Client, every: float, stop: threading.Event, *,
              runs: int | None = None) -> int:
    """Run every ``every`` seconds until ``stop`` is set (or ``runs`` runs); returns the
    number of failed reminders."""
    failed = 0
    done = 0
    while not stop.is_set():
        started = time.monotonic()
        results = run_once(client)
        failed += sum(1 for r in results if r.status != 202)
        for r in results:
            log.info("reminder for %s: %s", r.cart_id, r.status)
        done += 1
        if runs is not None and done >= runs:
            break
        stop.wait(max(0.0, every - (time.monotonic() - started)))
    return failed
