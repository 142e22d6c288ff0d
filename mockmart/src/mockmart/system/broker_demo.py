"""The demo's broker account: what went through RabbitMQ (``--json`` key ``broker``).

With the broker the order events travel outbox -> relay (shop-api, publisher confirms) ->
``orders`` -> order-events worker (its own token, manual acks) -> notification-service. The
worker's tokens live ``WORKER_TOKEN_SECONDS`` in the demo's realm copy, so that its
connection renews them with ``update-secret`` while the demo runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mockmart.system.broker_part import WORKER_CLIENT

__all__ = ["WORKER_TOKEN_SECONDS", "demo_realm", "report_broker"]

WORKER_TOKEN_SECONDS = 8
"""Lifetime of the worker's tokens in the demo (renewals show within the demo's run)."""


def demo_realm(realm_file: Path, run_dir: Path) -> Path:
    """A copy of the realm where the worker's tokens live WORKER_TOKEN_SECONDS."""
    from mockmart.system.stack import short_lifespan_realm

    run_dir.mkdir(parents=True, exist_ok=True)
    return short_lifespan_realm(realm_file, run_dir / "realm-broker.json",
                                seconds=WORKER_TOKEN_SECONDS, clients=(WORKER_CLIENT,))


def report_broker(stack: Any, result: Any, say: Callable[[str], None], orders: int,
                  started: float) -> None:
    """Wait for the worker's acks, then record and check the broker's counters."""
    part = stack.broker

    def acked() -> int:
        return int(part.worker_health()["worker"]["acknowledged"])

    def renewed() -> int:
        return int(part.worker_health()["worker"]["renewals"])

    # The worker's first token is renewed some 0.8 x WORKER_TOKEN_SECONDS after it connected.
    deadline = time.monotonic() + 30
    while (acked() < orders or renewed() < 1) and time.monotonic() < deadline:
        time.sleep(0.2)
    health = part.worker_health()
    worker = health["worker"]
    relay = stack.shop_health().get("broker") or {}
    elapsed = time.monotonic() - started
    bound = math.floor(elapsed / (0.8 * WORKER_TOKEN_SECONDS)) + 1
    data = {
        "published": relay.get("published"),
        "consumed": worker["consumed"],
        "acknowledged": worker["acknowledged"],
        "dead_lettered": worker["dead_lettered"],
        "duplicates_skipped": worker["duplicates"],
        "update_secret_renewals": {"order-events-worker": worker["renewals"],
                                   "shop-api": relay.get("renewals")},
        "worker_reconnects": worker["reconnects"],
        "worker_token_requests": health["token_fetches"],
        "worker_token_request_bound": bound,
        "worker_token_seconds": WORKER_TOKEN_SECONDS,
    }
    result.data["broker"] = data
    result.expect(data["published"] == orders,
                  f"broker: relay published {data['published']}, expected {orders}")
    result.expect(data["acknowledged"] == orders,
                  f"broker: worker acknowledged {data['acknowledged']}, expected {orders}")
    result.expect(data["dead_lettered"] == 0, f"broker: {data['dead_lettered']} dead-lettered")
    result.expect(worker["renewals"] >= 1, "broker: the worker's token was not renewed on its "
                  "open connection (update-secret)")
    result.expect(health["token_fetches"] <= bound,
                  f"broker: worker made {health['token_fetches']} token requests, bound {bound}")
    say(f"broker: {data['published']} events published with confirms, {data['consumed']} "
        f"consumed, {data['acknowledged']} acknowledged, {data['dead_lettered']} dead-lettered; "
        f"worker token renewed {worker['renewals']}x on its open connection (update-secret, "
        f"{health['token_fetches']} token requests in {elapsed:.0f} s of "
        f"{WORKER_TOKEN_SECONDS} s tokens)")
