"""Checkout fan-out benchmark: what authentication costs MockMart's checkout (issue 14).

One run, loopback only, bounded in time. Two copies of the checkout path are served in this
process, each app on its own uvicorn server and event loop (thread): shop-api ->
inventory-service (check, reserve) and payment-service (charge), the embedded DevIdP
beside them.

- ``on``: MockMart's real guards (:mod:`mockmart.security`): shop-api verifies mario's token,
  calls inventory with its own cached client-credentials token, exchanges mario's token for
  a DPoP-bound payment-service token (cached per user token and audience) and sends a DPoP
  proof per charge; inventory and payment verify (payment: proof, ``cnf.jkt``, on-behalf-of
  policy). Each app has its own remote key set.
- ``off``: the same apps and stores with guards that admit every request and no tokens.

The outbox dispatcher is off in both (the e-mail is asynchronous, not in checkout latency).
Rounds alternate ``on``/``off`` so the shared machine's noise hits both alike; checkouts/s
is the mean over rounds, p50/p99 the median over rounds. Also counted: token requests per
cache key (at the DevIdP and at the callers) and JWKS fetches per service.

    python bench/checkout.py                  # table
    python bench/checkout.py --json           # one JSON object
    python bench/checkout.py --duration 3 --rounds 2   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import Request  # noqa: E402

from mockmart.config import MockMartConfig, client_secret_variable, dev_env  # noqa: E402
from mockmart.services.inventory_service.app import InventoryGuards  # noqa: E402
from mockmart.services.inventory_service.app import create_app as inventory_app  # noqa: E402
from mockmart.services.inventory_service.stock import Stock  # noqa: E402
from mockmart.services.payment_service.app import PaymentGuards  # noqa: E402
from mockmart.services.payment_service.app import create_app as payment_app  # noqa: E402
from mockmart.services.shop_api.app import ShopGuards  # noqa: E402
from mockmart.services.shop_api.app import create_app as shop_app  # noqa: E402
from mockmart.storage import open_store  # noqa: E402
from mockmart.system.code_login import login_tokens  # noqa: E402
from svcauth.devidp import DevIdP  # noqa: E402

REALM = REPO / "deploy" / "keycloak" / "techstore-realm.json"


class _Server:
    """One app on a free 127.0.0.1 port, served by uvicorn in a thread of its own."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def start(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


async def _admit(request: Request) -> Any:
    """The ``off`` guard: everyone is mario, acting through shop-api."""
    return SimpleNamespace(subject="mario", user="mario", client_id="shop-api",
                           email="mario@example.com",
                           claims={"email": "mario@example.com", "canCheckout": True})


class _NoExchange:
    """The ``off`` exchanger: no token exchange, a dummy header."""

    async def aexchange(self, subject_token: str, audience: str) -> str:
        return "off"

    def source(self, subject_token: str, audience: str) -> Any:
        return SimpleNamespace(token=lambda: "off", atoken=self._atoken)

    async def _atoken(self) -> str:
        return "off"


def _config(idp: DevIdP, client_id: str, urls: dict[str, str], db: str) -> MockMartConfig:
    env = {"KEYCLOAK_URL": idp.base_url, "KEYCLOAK_REALM": "techstore", "KEYCLOAK_AUTH_PATH": "/",
           "KEYCLOAK_CLIENT_ID": client_id, "DATABASE_URL": db, **urls}
    secret = dev_env().get(client_secret_variable(client_id))
    if secret:
        env["KEYCLOAK_CLIENT_SECRET"] = secret
    return MockMartConfig.from_env(env, defaults={})


def start_variant(idp: DevIdP, auth: bool, run_dir: Path) -> dict[str, Any]:
    """The three apps of one variant, started; their servers and guards."""
    from mockmart import security

    db = f"sqlite:///{run_dir / ('shop-on.db' if auth else 'shop-off.db')}"
    inv_guards = (security.inventory_guards(_config(idp, "inventory-service", {}, db)) if auth
                  else InventoryGuards(read=_admit, reserve=_admit))  # type: ignore[arg-type]
    pay_guards = (security.payment_guards(_config(idp, "payment-service", {}, db)) if auth
                  else PaymentGuards(charge=_admit))  # type: ignore[arg-type]
    inventory = _Server(inventory_app(_config(idp, "inventory-service", {}, db),
                                      guards=inv_guards, stock=Stock(initial=10**12))).start()
    payment = _Server(payment_app(_config(idp, "payment-service", {}, db),
                                  guards=pay_guards)).start()
    urls = {"INVENTORY_URL": inventory.url, "PAYMENT_URL": payment.url}
    config = _config(idp, "shop-api", urls, db)
    shop_guards = (security.shop_guards(config) if auth else ShopGuards(
        checkout=_admit, payment=_admit, outgoing=httpx.Auth(),  # type: ignore[arg-type]
        exchanger=_NoExchange()))
    shop = _Server(shop_app(config, store=open_store(db), guards=shop_guards,
                            dispatcher=False)).start()
    return {"servers": [shop, inventory, payment], "shop": shop, "guards": {
        "shop-api": shop_guards, "inventory-service": inv_guards, "payment-service": pay_guards}}


async def _drive(url: str, token: str, duration: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration
    body = {"items": [{"productId": 1, "quantity": 1}, {"productId": 3, "quantity": 2}]}

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            response = await http.post(url + "/api/checkout", json=body, headers={
                "Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})
            latencies.append(time.perf_counter() - started)
            if response.status_code != 201:
                errors += 1

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(
            max_connections=concurrency)) as http:
        began = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {"checkouts_per_s": len(latencies) / elapsed, "errors": errors,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-checkout-"))
    with DevIdP(REALM, env=dev_env()) as idp:
        variants = {"on": start_variant(idp, True, run_dir),
                    "off": start_variant(idp, False, run_dir)}
        # storefront has no password grant: mario logs in with code + PKCE
        mario = login_tokens(idp.issuer, "mario", dev_env()["MARIO_PASSWORD"],
                             client_secret=dev_env()["STOREFRONT_CLIENT_SECRET"])["access_token"]
        idp.reset_stats()
        rounds: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        try:
            for name in ("on", "off"):  # warm-up: first token, first JWKS fetch
                asyncio.run(_drive(variants[name]["shop"].url, mario, 1.0, 2))
            for _ in range(args.rounds):
                for name in ("on", "off"):
                    rounds[name].append(asyncio.run(_drive(variants[name]["shop"].url, mario,
                                                           args.duration, args.concurrency)))
            stats = idp.stats()
            guards = variants["on"]["guards"]
            counts = {
                "idp_token_requests": stats["token_requests"],
                "idp_jwks_fetches": stats["jwks_fetches"],
                "shop_api_client_credentials_fetches": guards["shop-api"].token_fetches(),
                "shop_api_exchange_fetches": guards["shop-api"].exchange_fetches(),
                "jwks_fetches_per_service": {n: g.jwks_fetches() for n, g in guards.items()},
            }
        finally:
            for variant in variants.values():
                for server in variant["servers"]:
                    server.stop()
    summary = {name: {
        "checkouts_per_s": round(statistics.mean(r["checkouts_per_s"] for r in rs), 1),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in rs), 2),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in rs), 2),
        "errors": sum(r["errors"] for r in rs)} for name, rs in rounds.items()}
    ratio = summary["on"]["checkouts_per_s"] / summary["off"]["checkouts_per_s"]
    result = {"summary": summary, "on_over_off": round(ratio, 3), "counts": counts,
              "rounds": args.rounds, "duration_s": args.duration,
              "concurrency": args.concurrency}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"checkout fan-out, {args.rounds} rounds x {args.duration:.0f} s, "
              f"concurrency {args.concurrency}")
        for name, s in summary.items():
            print(f"  auth {name:<3}  {s['checkouts_per_s']:8.1f} checkouts/s   p50 "
                  f"{s['p50_ms']:7.2f} ms   p99 {s['p99_ms']:7.2f} ms   errors {s['errors']}")
        print(f"  on/off = {ratio:.3f}  (target >= 0.85)")
        print(f"  token requests at the IdP: {json.dumps(counts['idp_token_requests'])}")
        print(f"  shop-api: {counts['shop_api_client_credentials_fetches']} client-credentials "
              f"token(s), {counts['shop_api_exchange_fetches']} exchange(s); JWKS fetches per "
              f"service: {json.dumps(counts['jwks_fetches_per_service'])}")
    ok = summary["on"]["errors"] == 0 and summary["off"]["errors"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
