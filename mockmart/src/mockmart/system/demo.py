"""``mockmart demo``: the whole story on free ports, checked, then everything stopped.

alice logs in at the storefront and checks out 20 times; shop-api's dispatcher notifies
notification-service with one service token of its own, reused; the 20 order e-mails reach
the SMTP sink; inventory-sync (private_key_jwt) reads notification-service's log, and the
demo prints the claims of shop-api's token as notification-service verified and recorded
them with the first order notification; the cart-reminder job (a separate process) and the
payment webhook run with their own tokens; then the refused cases. The exit code is 0 only
if every expectation held.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mockmart.config import MockMartConfig
from mockmart.security import service_token_source
from mockmart.system.demo_claims import show_shop_api_token_claims
from mockmart.system.demo_trace import show_first_checkout_trace
from mockmart.system.smtp_sink import read_mailbox
from mockmart.system.stack import Stack, StackOptions
from svcauth.httpx import BearerAuth

__all__ = ["CHECKOUTS", "DemoResult", "expected_refusals", "play", "run_demo"]

CHECKOUTS = 20


def expected_refusals() -> dict[str, tuple[int, str]]:
    """Each refused case -> (status, ``error`` body) it must get."""
    return {
        "no_token": (401, "No token provided"),
        "user_token_at_notification_service": (
            403, "This endpoint only accepts service account tokens"),
        "reporting_job_token": (403, "Unauthorized service"),  # valid there, not allowed
        "expired_token": (401, "Token expired"),
        "tampered_token": (401, "Invalid token"),
        "service_token_at_checkout": (403, "This endpoint only accepts user tokens"),
    }


@dataclass
class DemoResult:
    """What the demo saw, and which expectations failed."""

    data: dict[str, Any] = field(default_factory=dict)
    """The ``--json`` object."""
    failures: list[str] = field(default_factory=list)
    """Expectations that did not hold (empty: exit 0)."""
    lines: list[str] = field(default_factory=list)
    """The readable account."""

    def expect(self, ok: bool, what: str) -> None:
        """Record an expectation."""
        if not ok:
            self.failures.append(what)


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _tamper(token: str) -> str:
    """Claim to be shop-api (``azp``/``client_id``), keep the signature: a forged token."""
    import base64

    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["azp"] = claims["client_id"] = "shop-api"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def _refusal(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    return {"status": response.status_code, "error": error,
            "www_authenticate": response.headers.get("www-authenticate")}


def _job_env(stack: Stack) -> dict[str, str]:
    env = stack.service_env("cart-reminder-job")
    assert stack.notification is not None
    env["NOTIFICATION_URL"] = stack.notification.url
    return env


def play(stack: Stack, say: Callable[[str], None]) -> DemoResult:
    """Play the story against a started stack; returns what was seen."""
    r = DemoResult()
    shop = stack.shop.url

    # 1. alice logs in and checks out
    alice = stack.user_token()
    say("alice logged in at the storefront (user token, azp=storefront)")
    orders = []
    with httpx.Client(timeout=10) as http:
        for _ in range(CHECKOUTS):
            resp = http.post(shop + "/api/checkout", json={"items": ["mock-widget"]},
                             headers={"Authorization": f"Bearer {alice}"})
            r.expect(resp.status_code == 201, f"checkout answered {resp.status_code}")
            if resp.status_code == 201:
                orders.append(resp.json()["orderId"])
            if len(orders) == 1:
                # Let the first order travel alone, so its trace holds the whole first
                # journey: shop-api's token fetch and notification-service's key fetch.
                r.expect(_wait(lambda: stack.mailbox().delivered >= 1, 30),
                         "the first order e-mail did not arrive within 30 s")
    r.data["checkouts"] = len(orders)
    say(f"{len(orders)} checkouts answered 201 (orders stored with their outbox events)")

    # 2. the dispatcher delivers; e-mails arrive
    drained = _wait(lambda: stack.shop_health()["outbox"]["pending"] == 0
                    and stack.mailbox().delivered >= len(orders), 60)
    r.expect(drained, "the outbox did not drain within 60 s")
    mail = stack.mailbox()
    r.data["emails_delivered"] = mail.delivered  # order e-mails (the reminder comes later)
    r.data["duplicate_emails"] = mail.duplicates
    r.expect(mail.delivered == CHECKOUTS, f"expected {CHECKOUTS} e-mails, found {mail.delivered}")
    r.expect(mail.duplicates == 0, f"{mail.duplicates} duplicate e-mails")
    say(f"{mail.delivered} order e-mails delivered to the SMTP sink ({stack.mail_dir}), "
        f"{mail.duplicates} duplicates")

    # 2b. who called: notification-service's log, read by inventory-sync (private_key_jwt)
    show_shop_api_token_claims(stack, r, say)

    # 3. the scheduled job, as its own process with its own token
    job = subprocess.run([sys.executable, "-m", "mockmart.system.cli", "job", "cart-reminders"],
                         env={**os.environ, **_job_env(stack)}, capture_output=True, text=True,
                         timeout=60, check=False)
    r.data["cart_reminder_job"] = {"exit_code": job.returncode, "output": job.stdout.strip()}
    r.expect(job.returncode == 0, f"cart-reminders job exited {job.returncode}: {job.stderr[-300:]}")
    reminders_ok = _wait(lambda: stack.mailbox().delivered == CHECKOUTS + 1, 10)
    r.expect(reminders_ok, "the reminder e-mail did not arrive")
    r.data["reminder_emails"] = sum(1 for m in read_mailbox(stack.mail_dir)
                                    if m["X-MockMart-Kind"] == "reminder")
    say(f"cart-reminders job (client cart-reminder-job): {job.stdout.strip() or job.returncode}")

    # 4. the payment webhook, from payment-provider with its own credentials
    provider_tokens = service_token_source(
        MockMartConfig.from_env(stack.service_env("payment-provider")))
    with httpx.Client(auth=BearerAuth(provider_tokens), timeout=10) as provider:
        resp = provider.post(shop + "/api/webhooks/payment",
                             json={"orderId": orders[0] if orders else "none", "status": "captured"})
    r.data["payment_webhook"] = {"status": resp.status_code}
    r.expect(resp.status_code == 200, f"payment webhook answered {resp.status_code}")
    say(f"payment webhook from payment-provider: HTTP {resp.status_code}")

    # 5. the refused cases
    _refused_cases(stack, r, say, alice=alice, provider_token=provider_tokens.token())

    # 6. what the identity provider (or, on Keycloak, the callers) counted
    _counts(stack, r, say)

    # 6b. the shop: checkout's fan-out to inventory and payment, by roles
    from mockmart.system.demo_shop import report_shop

    shop_orders = report_shop(stack, r, say)  # confirmed orders: more order events

    if stack.broker is not None:  # 7. what went through RabbitMQ
        from mockmart.system.broker_demo import report_broker

        report_broker(stack, r, say, len(orders) + shop_orders, stack.started_at)
    return r


def _refused_cases(stack: Stack, r: DemoResult, say: Callable[[str], None], *, alice: str,
                   provider_token: str) -> None:
    assert stack.notification is not None
    order_url = stack.notification.url + "/api/notifications/order"

    def token_of(client_id: str) -> str:
        return service_token_source(MockMartConfig.from_env(stack.service_env(client_id))).token()

    cases: dict[str, tuple[str, dict[str, str]]] = {
        "no_token": (order_url, {}),
        "user_token_at_notification_service": (order_url, {"Authorization": f"Bearer {alice}"}),
        "reporting_job_token": (order_url, {"Authorization": f"Bearer {token_of('reporting-job')}"}),
        # cart-reminder-job's real token, edited to claim it was issued to shop-api
        "tampered_token": (order_url, {
            "Authorization": f"Bearer {_tamper(token_of('cart-reminder-job'))}"}),
        "service_token_at_checkout": (stack.shop.url + "/api/checkout", {
            "Authorization": f"Bearer {provider_token}"}),
    }
    refusals: dict[str, Any] = {}
    if stack.dev:
        cases["expired_token"] = (order_url, {"Authorization": "Bearer " + stack.idp.mint_token(
            "shop-api", lifetime=300, now=time.time() - 3600)})
    else:
        refusals["expired_token"] = {"skipped": "needs a token older than its lifetime; the "
                                                "embedded provider mints one, Keycloak cannot"}
    body: dict[str, Any] = {"orderId": "ord_refused", "userEmail": "mallory@example.com"}
    with httpx.Client(timeout=10) as http:
        for name, (url, headers) in cases.items():
            payload: dict[str, Any] = {"items": []} if url.endswith("/checkout") else body
            refusals[name] = _refusal(http.post(url, json=payload, headers=headers))
    r.data["refusals"] = refusals
    for name, (status, error) in expected_refusals().items():
        got = refusals[name]
        if "skipped" in got:
            say(f"refused {name.replace('_', ' ')}: not run ({got['skipped']})")
            continue
        ok = (got["status"], got["error"]) == (status, error)
        r.expect(ok, f"{name}: expected {status} {error!r}, got {got['status']} {got['error']!r}")
        say(f"refused {name.replace('_', ' ')}: {got['status']} {got['error']}"
            + ("" if ok else f"   <-- expected {status} {error}"))
    r.expect(stack.mailbox().delivered == CHECKOUTS + 1, "a refused request sent an e-mail")


def _counts(stack: Stack, r: DemoResult, say: Callable[[str], None]) -> None:
    shop_health = stack.shop_health()
    shop_fetches = shop_health.get("token_fetches")
    r.data["shop_api_token_fetches"] = shop_fetches
    r.expect(shop_fetches == 1, f"shop-api counted {shop_fetches} token requests, expected 1")
    stats = stack.idp.stats()
    if stats is not None:
        per_client = {client: sum(grants.values())
                      for client, grants in stats["token_requests"].items()}
        r.expect(per_client.get("shop-api") == 1,
                 f"the IdP saw {per_client.get('shop-api')} shop-api token requests, expected 1")
    else:  # Keycloak keeps no such counter for us: shop-api's own count stands in
        per_client = {"shop-api": shop_fetches}
    r.data["idp_token_requests"] = per_client
    r.data["jwks_fetches"] = {
        "idp_total": stats["jwks_fetches"] if stats is not None else None,
        "notification-service": stack.notification_health().get("jwks_fetches"),
        "shop-api": shop_health.get("jwks_fetches"),
    }
    say(f"token requests per client: {json.dumps(per_client, sort_keys=True)} "
        f"(shop-api: one token, reused for all {CHECKOUTS} notifications)")
    say(f"JWKS fetches: notification-service {r.data['jwks_fetches']['notification-service']}, "
        f"shop-api {r.data['jwks_fetches']['shop-api']}"
        + (f" ({stats['jwks_fetches']} seen by the identity provider)" if stats else ""))


def run_demo(args: argparse.Namespace) -> int:
    """``mockmart demo``: start, play, report, stop; exit 0 only if every expectation held."""
    run_dir = Path(args.run_dir).resolve()
    interactive = sys.stderr.isatty() and not args.json

    def progress(part: str) -> None:
        if interactive:
            print(f"\r\033[Kstarting MockMart: {part} ...", end="", file=sys.stderr, flush=True)
        else:
            print(f"starting MockMart: {part} ...", file=sys.stderr, flush=True)

    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if not args.json:
            print("  " + line, flush=True)

    started = time.monotonic()
    options = StackOptions(run_dir=run_dir, retry_max_delay=2.0, idp=args.idp, demo=True,
                           storefront=False)  # the web UI is for `up`; the demo uses none
    from mockmart.system.broker_node import BrokerNode

    if getattr(args, "broker", True) and BrokerNode.available():
        from mockmart.system.broker_demo import demo_realm

        options.broker = True
        options.realm_file = demo_realm(options.realm_file, run_dir)
    elif getattr(args, "broker", True):
        print("mockmart demo: RabbitMQ not installed and not installable here (needs root and "
              "apt-get): order events go over HTTP, without the broker", file=sys.stderr)
    stack = Stack(options, progress=progress)
    try:
        stack.start(progress)
        if interactive:
            print("\r\033[K", end="", file=sys.stderr)
        if not args.json:
            print(f"MockMart is up (identity provider {stack.idp.issuer}, shop-api {stack.shop.url},"
                  f" notification-service {stack.notification.url if stack.notification else '-'})")
        result = play(stack, say)
        show_first_checkout_trace(stack, result, say)
    except Exception as exc:
        stack.stop()
        code = getattr(exc, "code", None)
        print(f"mockmart demo: failed{f' [{code}]' if code else ''}: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
    result.data["expectations_failed"] = result.failures
    result.data["ok"] = not result.failures
    result.data["seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(result.data, indent=2, sort_keys=True))
    elif result.failures:
        print("FAILED expectations:\n  " + "\n  ".join(result.failures))
    else:
        print(f"every expectation held ({result.data['seconds']} s); all processes stopped")
    return 0 if not result.failures else 1

