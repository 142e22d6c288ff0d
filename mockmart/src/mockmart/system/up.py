"""``mockmart up``: start the system on fixed ports, print how to try it, stop on Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from mockmart.config import client_secret_variable
from mockmart.system.stack import Stack, StackOptions
from mockmart.system.trace_backend import TraceBackend
from mockmart.tracing import setup_tracing

__all__ = ["run_up", "try_it", "users_note"]


def try_it(stack: Stack) -> str:
    """The URLs and the curl commands to try, the seed's token request first."""
    assert stack.notification is not None and stack.smtp is not None
    env = stack.options.env
    token_url = stack.idp.token_endpoint
    shop_secret = env[client_secret_variable("shop-api")]
    return "\n".join([
        "MockMart is up:",
        f"  identity provider     {stack.idp.issuer}",
        *([f"  storefront (browser)  {stack.storefront.url}   <- log in here"]
          if stack.storefront is not None else []),
        f"  shop-api              {stack.shop.url}",
        f"  notification-service  {stack.notification.url}",
        *(f"  {name:<21} {proc.url}" for name, proc in stack.backends.items()),
        f"  SMTP sink             127.0.0.1:{stack.smtp.port} -> {stack.mail_dir}/*.eml",
        f"  logs                  {stack.run_dir / 'logs'}",
        "",
        "Try it (dev secrets from deploy/dev.env, 127.0.0.1 only):",
        "  # shop-api's service token (client credentials):",
        f"  TOKEN=$(curl -s -X POST {token_url} -d grant_type=client_credentials \\",
        f"      -d client_id=shop-api -d client_secret={shop_secret} | jq -r .access_token)",
        "  curl -i -X POST -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\",
        "      -d '{\"orderId\":\"ord_try\",\"userEmail\":\"alice@example.com\"}' \\",
        f"      {stack.notification.url}/api/notifications/order",
        "  # alice's user token (code + PKCE at the storefront; no password grant):",
        "  ALICE=$(.venv/bin/python -c 'from mockmart.system.code_login import login_tokens; \\",
        f"      print(login_tokens(\"{stack.idp.issuer}\", \"alice\", "
        f"\"{env.get('ALICE_PASSWORD', '')}\", \\",
        f"      client_secret=\"{env.get(client_secret_variable('storefront'), '')}\")"
        "[\"access_token\"])')",
        "  curl -i -H \"Authorization: Bearer $ALICE\" " f"{stack.shop.url}/api/orders",
        "  # refused: alice's user token at notification-service (403), no token (401):",
        "  curl -i -X POST -H \"Authorization: Bearer $ALICE\" -H 'Content-Type: application/json' \\",
        "      -d '{\"orderId\":\"x\",\"userEmail\":\"a@example.com\"}' "
        f"{stack.notification.url}/api/notifications/order",
        f"  curl -i -X POST {stack.notification.url}/api/notifications/order",
        "",
        *users_note(stack),
        "Ctrl-C stops everything.",
    ])


def users_note(stack: Stack) -> list[str]:
    """The storefront users to log in as (passwords from deploy/dev.env)."""
    env = stack.options.env
    return [
        "Users to log in as (storefront):",
        f"  admin    / {env.get('ADMIN_PASSWORD', '')}   realm role admin: products, failure switches",
        f"  mario    / {env.get('MARIO_PASSWORD', '')}        checks out",
        f"  blocked  / {env.get('BLOCKED_PASSWORD', '')}      canCheckout=false: checkout refused",
        "",
    ]


def tracing_note(backend: TraceBackend) -> str:
    """Where to look at the traces."""
    return "\n".join([
        "",
        f"Tracing UI (Zipkin): {backend.ui_url}",
        "  check out as above, then 'Run query' in the UI: the checkout's trace shows shop-api's",
        "  token POST, the notification call and notification-service's JWKS GET, with the",
        "  identity provider's own spans inside (Keycloak's too, with --idp keycloak).",
    ])


def run_up(args: argparse.Namespace) -> int:
    """Start everything, wait for Ctrl-C or SIGTERM, stop everything."""
    if args.host not in ("127.0.0.1", "localhost"):
        print("mockmart up: only 127.0.0.1 is supported (dev secrets are published)",
              file=sys.stderr)
        return 2
    def progress(part: str) -> None:
        print(f"starting MockMart: {part} ...", file=sys.stderr, flush=True)

    backend = TraceBackend(zipkin_port=args.zipkin_port, progress=progress) if args.otel else None
    stack = Stack(StackOptions(
        run_dir=Path(args.run_dir).resolve(), idp_port=args.idp_port, smtp_port=args.smtp_port,
        notification_port=args.notification_port, shop_port=args.shop_port, idp=args.idp,
        storefront_port=getattr(args, "storefront_port", 0),
        inventory_port=getattr(args, "inventory_port", 0),
        payment_port=getattr(args, "payment_port", 0), demo=True,
        broker=getattr(args, "broker", False),
        auth_path=getattr(args, "auth_path", ""),
        otlp_endpoint=backend.otlp_endpoint if backend is not None else ""),
        progress=progress)
    stop = threading.Event()
    # Ctrl-C and SIGTERM both stop everything. SIGINT is handled here (as uvicorn does), not
    # left to Python's KeyboardInterrupt: a process a shell without job control starts in
    # the background inherits SIGINT *ignored*, and then no KeyboardInterrupt ever comes.
    # During start-up a signal also breaks off the start (which may wait for Keycloak).
    serving = threading.Event()

    def on_signal(*_: object) -> None:
        stop.set()
        if not serving.is_set():
            raise KeyboardInterrupt

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)

    try:
        if backend is not None:
            progress("Zipkin, the tracing UI (fetched once; about 15 s)")
            backend.start()
            if args.idp == "dev":  # the embedded provider runs here: its spans leave from here
                setup_tracing("devidp", {"OTEL_EXPORTER_OTLP_ENDPOINT": backend.otlp_endpoint})
        stack.start(progress)
        print(try_it(stack), flush=True)
        if stack.broker is not None:
            print(f"RabbitMQ node {stack.broker.node.url} (order events; order-events-worker "
                  f"{stack.broker.worker.url}/healthz); see docs/broker.md", flush=True)
        if backend is not None:
            print(tracing_note(backend), flush=True)
        serving.set()
        while not stop.wait(0.5):
            for proc in [stack.smtp, stack.notification, *stack.backends.values(), *stack.shops]:
                if proc is not None and not proc.running():
                    print(f"mockmart up: {proc.name} exited; stopping", file=sys.stderr)
                    stop.set()
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"mockmart up: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    finally:
        print("stopping MockMart ...", file=sys.stderr)
        stack.stop()
        if backend is not None:
            backend.stop()
    return 0
