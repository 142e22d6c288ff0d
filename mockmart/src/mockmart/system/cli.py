"""The ``mockmart`` command.

::

    mockmart up    [--idp dev|keycloak] [--host 127.0.0.1] [--idp-port 8080] [--shop-port 8081]
                   [--storefront-port 8085]
                   [--notification-port 8082] [--smtp-port 2525] [--otel [--zipkin-port 9411]]
    mockmart demo  [--idp dev|keycloak] [--json]
    mockmart job cart-reminders [--every SECONDS] [--runs N]

and the processes ``up``/``demo``/tests start (one per service, each on a socket the parent
bound and passed as ``--fd``, or on ``--port``)::

    mockmart serve notification-service|shop-api|inventory-service|payment-service|storefront
                   [--fd N | --port N] [--no-dispatcher]
    mockmart smtp-sink [--fd N | --port N] [--mail-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

__all__ = ["main"]


def _listening(args: argparse.Namespace) -> socket.socket:
    if args.fd is not None:
        return socket.socket(fileno=args.fd)
    from mockmart.system.processes import listen_socket

    return listen_socket(args.port, args.host)


def _logging(stream: TextIO = sys.stdout) -> None:
    logging.basicConfig(level=logging.INFO, stream=stream,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _exit_with_parent() -> None:
    """SIGTERM ourselves once the parent is gone (a killed ``up``/``demo``/test run)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mockmart.config import MockMartConfig

    _logging()
    config = MockMartConfig.from_env()
    from mockmart.tracing import setup_tracing

    setup_tracing(args.service)  # before the apps build their httpx clients
    from mockmart.registry import build_app

    options: dict[str, object] = {}
    if args.service == "order-events-worker":
        options["delivery_limit"] = int(os.environ.get("MOCKMART_DELIVERY_LIMIT", "5"))
    elif args.service == "shop-api":
        options["dispatcher"] = not args.no_dispatcher
    app = build_app(args.service, config, **options)
    from mockmart.metrics import install_metrics

    install_metrics(app)
    sock = _listening(args)
    if args.exit_with_parent:
        _exit_with_parent()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="on", timeout_graceful_shutdown=10))
    server.run(sockets=[sock])
    return 0


def _smtp_sink(args: argparse.Namespace) -> int:
    from mockmart.system.smtp_sink import serve_sink

    _logging()
    if args.exit_with_parent:
        _exit_with_parent()
    serve_sink(_listening(args), Path(args.mail_dir))
    return 0


def _job(args: argparse.Namespace) -> int:
    import httpx

    from mockmart.config import MockMartConfig, client_secret_variable, dev_env
    from mockmart.security import service_token_source
    from mockmart.workers.cart_reminders import run_every, run_once
    from svcauth.httpx import BearerAuth

    _logging(sys.stderr)
    env = dict(os.environ)
    # The job is cart-reminder-job unless the environment names another client.
    if not env.get("KEYCLOAK_CLIENT_ID"):
        env["KEYCLOAK_CLIENT_ID"] = "cart-reminder-job"
        env.setdefault("KEYCLOAK_CLIENT_SECRET",
                       dev_env().get(client_secret_variable("cart-reminder-job"), ""))
    config = MockMartConfig.from_env(env)
    auth = BearerAuth(service_token_source(config))
    with httpx.Client(base_url=config.notification_url, auth=auth, timeout=10) as client:
        if args.every is None:
            results = run_once(client)
            for r in results:
                print(f"reminder for {r.cart_id}: HTTP {r.status}"
                      + (f" (notification {r.notification_id})" if r.notification_id else ""))
            return 0 if all(r.status == 202 for r in results) else 1
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            failed = run_every(client, args.every, stop, runs=args.runs)
        except KeyboardInterrupt:
            return 130
        return 0 if failed == 0 else 1


def _keycloak_runner() -> bool:
    try:
        from svcauth.keycloak import LocalKeycloak  # noqa: F401
    except ImportError:
        return False
    return True


def _add_listen(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fd", type=int, help="serve on this inherited listening socket")
    p.add_argument("--host", default="127.0.0.1", help="address to bind without --fd")
    p.add_argument("--port", type=int, default=0, help="port to bind without --fd (0 = any)")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop when the process that started this one is gone")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mockmart``."""
    parser = argparse.ArgumentParser(prog="mockmart",
                                     description="MockMart, svcauth's reference system.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    up = sub.add_parser("up", help="start the whole system and keep it running until Ctrl-C")
    up.add_argument("--idp", choices=("dev", "keycloak"), default="dev")
    up.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    up.add_argument("--idp-port", type=int, default=8080)
    up.add_argument("--shop-port", type=int, default=8081)
    up.add_argument("--storefront-port", type=int, default=8085, help="the web UI (8085)")
    up.add_argument("--notification-port", type=int, default=8082)
    up.add_argument("--smtp-port", type=int, default=2525)
    up.add_argument("--inventory-port", type=int, default=8083)
    up.add_argument("--payment-port", type=int, default=8084)
    up.add_argument("--run-dir", default="var/up", help="databases, logs and mail (var/up)")
    up.add_argument("--broker", action="store_true",
                    help="order events through a local RabbitMQ node (docs/broker.md)")
    up.add_argument("--auth-path", default="", choices=("", "/auth"),
                    help="'/auth': serve and use Keycloak's legacy path prefix (< 17)")
    up.add_argument("--otel", action="store_true",
                    help="also start Zipkin (the tracing UI) and send every span there")
    up.add_argument("--zipkin-port", type=int, default=9411, help="Zipkin's port with --otel")

    demo = sub.add_parser("demo", help="run the whole story on free ports and check it")
    demo.add_argument("--idp", choices=("dev", "keycloak"), default="dev")
    demo.add_argument("--json", action="store_true", help="print one JSON object")
    demo.add_argument("--run-dir", default="var/demo", help="databases, logs and mail (var/demo)")
    demo.add_argument("--no-broker", dest="broker", action="store_false",
                      help="order events over HTTP, without RabbitMQ (default: the broker when "
                           "it can be had)")

    job = sub.add_parser("job", help="run a scheduled job")
    job.add_argument("name", choices=("cart-reminders",))
    job.add_argument("--every", type=float, metavar="SECONDS", help="repeat every SECONDS")
    job.add_argument("--runs", type=int, help="with --every: stop after this many runs")

    serve = sub.add_parser("serve", help="serve one service (what `up` starts)")
    serve.add_argument("service", choices=("notification-service", "shop-api",
                                           "order-events-worker", "inventory-service",
                                           "payment-service", "storefront"))
    serve.add_argument("--no-dispatcher", action="store_true", help="shop-api without dispatcher")
    _add_listen(serve)

    sink = sub.add_parser("smtp-sink", help="the SMTP sink writing .eml files")
    sink.add_argument("--mail-dir", default="var/mail")
    _add_listen(sink)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mockmart`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    from svcauth import SvcAuthError

    try:
        return _run(args)
    except SvcAuthError as exc:  # configuration and the like: a line, not a traceback
        print(f"mockmart {args.command}: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args)
    if args.command == "smtp-sink":
        return _smtp_sink(args)
    if args.command == "job":
        return _job(args)
    if args.idp == "keycloak" and not _keycloak_runner():
        print(f"mockmart {args.command}: --idp keycloak is not yet available (no local "
              "Keycloak runner in svcauth.keycloak); use --idp dev", file=sys.stderr)
        return 2
    if args.command == "up":
        from mockmart.system.up import run_up

        return run_up(args)
    from mockmart.system.demo import run_demo

    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
