"""Caller under load (run by ``bench/load.py``): N shop-api checkouts per second for D
seconds through MockMart, and how many token requests shop-api made for them.

MockMart runs as processes (``mockmart.system.stack.Stack``) on a realm copy in which shop-api's
access tokens live ``--token-lifetime`` seconds. Checkouts are started open-loop on a fixed
schedule (``rate`` per second, at most ``rate`` in flight); each one makes shop-api's
dispatcher post a notification with shop-api's own token. The IdP counts shop-api's
client-credentials requests (``DevIdP.stats()``) from the first checkout until the last
notification is delivered. "One request per token lifetime" is checked against the caller's
own schedule: a token is refreshed ahead at the earliest ``RefreshPolicy().refresh_at(token,
-1)`` (about 75 % of the lifetime, and at most half of it for lifetimes under two minutes,
where the 60 s margin is capped), so the window allows at most ``ceil(window / that) + 1``.
With the realm's 300 s lifetime a 60 s run must make exactly one request.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import httpx  # noqa: E402

from mockmart.config import REALM_FILE  # noqa: E402
from mockmart.system.stack import Stack, StackOptions, short_lifespan_realm  # noqa: E402
from svcauth.caller import RefreshPolicy, Token  # noqa: E402


async def _checkouts(url: str, token: str, rate: float, duration: float) -> dict[str, Any]:
    total = int(rate * duration)
    ok = failed = 0
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=int(rate), max_keepalive_connections=int(rate))
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        async def one() -> None:
            nonlocal ok, failed
            t0 = time.perf_counter()
            try:
                r = await http.post(url, json={"items": ["widget"]},
                                    headers={"Authorization": f"Bearer {token}"})
                ok += r.status_code == 201
                failed += r.status_code != 201
            except httpx.HTTPError:
                failed += 1
            latencies.append((time.perf_counter() - t0) * 1000)

        began = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {"checkouts_sent": total, "checkouts_ok": ok, "checkouts_failed": failed,
            "duration_s": round(elapsed, 1), "achieved_rate": round(ok / elapsed, 1),
            "checkout_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
            "checkout_p99_ms": round(latencies[int(0.99 * len(latencies))], 1)
            if latencies else None}


def run(rate: float, duration: float, lifetime: int) -> dict[str, Any]:
    """Start MockMart, drive checkouts, wait for delivery, count token requests."""
    with tempfile.TemporaryDirectory(prefix="load-caller-") as tmp:
        realm = short_lifespan_realm(REALM_FILE, Path(tmp) / "realm.json", seconds=lifetime,
                                     clients=("shop-api",))
        with Stack(StackOptions(run_dir=Path(tmp) / "run", realm_file=realm,
                                retry_max_delay=1.0)) as stack:
            alice = stack.user_token()
            stack.idp.reset_stats()
            window_start = time.monotonic()
            result = asyncio.run(_checkouts(stack.shop.url + "/api/checkout", alice, rate,
                                            duration))
            deadline = time.monotonic() + 120
            while stack.mailbox().delivered < result["checkouts_ok"] and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
            window = time.monotonic() - window_start
            stats = stack.idp.stats()
            mailbox = stack.mailbox()
    probe = Token(access_token="x", token_type="Bearer", expires_in=lifetime,
                  expires_at=float(lifetime), scope=None, issued_at=0.0)
    interval = RefreshPolicy().refresh_at(probe, -1.0)
    shop = stats["token_requests"].get("shop-api", {})
    return {**result, "token_lifetime_s": lifetime,
            "shop_api_token_requests": sum(shop.values()),
            "window_s": round(window, 1), "refresh_interval_s": round(interval, 2),
            "expected_max_token_requests": math.ceil(window / interval) + 1,
            "delivered": mailbox.delivered, "duplicates": mailbox.duplicates}


def main() -> None:
    """Parse flags, run, print one JSON line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--token-lifetime", type=int, default=300)
    args = p.parse_args()
    print(json.dumps(run(args.rate, args.duration, args.token_lifetime)))


if __name__ == "__main__":
    main()
