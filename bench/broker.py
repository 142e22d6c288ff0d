"""Broker benchmark: events/s through RabbitMQ -> order-events worker -> notification-service
with the worker's broker connection authenticated by its service token (OAuth 2.0 backend,
svcauth.amqp) against the same node with its built-in password authentication (internal
backend), in the same run.

    python bench/broker.py [--events 300] [--rounds 5] [--json]

One node, one embedded identity provider, one SMTP sink and one notification-service
process for both. Each round fills the ``orders`` queue with ``--events`` fresh events
(published with confirms as shop-api), then starts an in-process worker (the real
:class:`mockmart.workers.order_events.OrderEventsWorker`, prefetch 20) and times it from start to
the last ack; every event is one HTTPS-less POST to notification-service with the worker's
bearer token and one e-mail. The two variants differ only in how the worker's AMQP
connection authenticates. Rounds alternate (token, password, token, ...) so drift hits both;
the ratio is token / password events/s, median of rounds and worst round.
Target (issue 16): >= 0.9x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mockmart.config import REALM_FILE, client_secret_variable, dev_env
from mockmart.system.broker_node import BrokerNode, NodeConfig
from mockmart.system.stack import Stack, StackOptions
from mockmart.topology import EXCHANGE
from mockmart.workers.order_events import OrderEventsWorker, ProcessedEvents
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
)
from svcauth.httpx import BearerAuth

PASSWORD_USER, PASSWORD = "bench-worker", "bench-worker-password"


class PasswordConnection:
    """The baseline: an aio-pika connection with a broker user and password (internal
    backend), with the members OrderEventsWorker uses."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.renewals = 0
        self.reconnects = 0

    async def run(self, session: Any, *, stop: Any) -> None:
        import aio_pika

        conn = await aio_pika.connect(host="127.0.0.1", port=self.port, login=PASSWORD_USER,
                                      password=PASSWORD, timeout=10)
        try:
            await session(conn)
        finally:
            await conn.close()


def _source(token_endpoint: str, client_id: str, env: dict[str, str]) -> CachingTokenSource:
    return CachingTokenSource(ClientCredentialsSource(ClientConfig(
        client_id=client_id, auth=ClientSecretBasic(env[client_secret_variable(client_id)]),
        token_endpoint=token_endpoint)))


def _fill(node: BrokerNode, relay: CachingTokenSource, n: int) -> None:
    import pika

    from svcauth.amqp.pika import TokenConnection

    with TokenConnection(relay, port=node.port).open() as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        for _ in range(n):
            event = f"bench-{uuid.uuid4().hex}"
            body = json.dumps({"eventId": event, "orderId": event,
                               "userEmail": "bench@example.com"}).encode()
            channel.basic_publish(EXCHANGE, "", body, pika.BasicProperties(
                message_id=event, delivery_mode=2), mandatory=True)


async def _consume(node: BrokerNode, stack: Stack, worker_source: CachingTokenSource,
                   n: int, password: bool) -> float:
    assert stack.notification is not None
    async with httpx.AsyncClient(base_url=stack.notification.url, timeout=30,
                                 auth=BearerAuth(worker_source)) as http:
        worker = OrderEventsWorker(
            worker_source, host="127.0.0.1", port=node.port, notification=http,
            processed=ProcessedEvents(None),
            broker=PasswordConnection(node.port) if password else None)
        started = time.perf_counter()
        task = asyncio.create_task(worker.run())
        while worker.counts["acknowledged"] < n:
            if task.done():
                task.result()
                raise RuntimeError("the worker stopped early")
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        worker.stop()
        await asyncio.wait_for(task, 30)
    return n / elapsed


def _measure(tmp: Path, env: dict[str, str], args: argparse.Namespace,
             results: dict[str, list[float]]) -> Any:
    with Stack(StackOptions(run_dir=tmp / "run", realm_file=REALM_FILE)) as stack:
        node = BrokerNode(NodeConfig(jwks_url=stack.idp.jwks_uri,
                                     password_users={PASSWORD_USER: PASSWORD}), tmp / "rabbitmq")
        with node:
            relay = _source(stack.idp.token_endpoint, "shop-api", env)
            worker = _source(stack.idp.token_endpoint, "order-events-worker", env)
            # Warm-up: connections, JWKS at the node and at notification-service.
            _fill(node, relay, 20)
            asyncio.run(_consume(node, stack, worker, 20, password=False))
            for _ in range(args.rounds):
                for variant in ("token", "password"):
                    _fill(node, relay, args.events)
                    rate = asyncio.run(_consume(node, stack, worker, args.events,
                                                password=variant == "password"))
                    results[variant].append(rate)
        return stack.mailbox()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not BrokerNode.available():
        print("bench/broker.py: RabbitMQ not installed and not installable here", file=sys.stderr)
        return 2
    env = dev_env()
    os.environ["MOCKMART_ORDER_CLIENTS"] = "shop-api,order-events-worker"
    results: dict[str, list[float]] = {"token": [], "password": []}
    with tempfile.TemporaryDirectory(prefix="svcauth-bench-broker-") as tmp:
        mails = _measure(Path(tmp), env, args, results)
    token, password = statistics.median(results["token"]), statistics.median(results["password"])
    ratios = [t / p for t, p in zip(results["token"], results["password"], strict=True)]
    report = {"events_per_round": args.events, "rounds": args.rounds,
              "token_events_per_s": [round(r, 1) for r in results["token"]],
              "password_events_per_s": [round(r, 1) for r in results["password"]],
              "ratio_median": round(token / password, 3),
              "ratio_per_round": [round(r, 3) for r in ratios],
              "ratio_worst_round": round(min(ratios), 3),
              "emails": mails.delivered, "duplicate_emails": mails.duplicates,
              "target": 0.9}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"token auth:    {token:8.1f} events/s  (rounds {report['token_events_per_s']})")
        print(f"password auth: {password:8.1f} events/s  (rounds {report['password_events_per_s']})")
        print(f"ratio token/password: median {report['ratio_median']}x, worst round "
              f"{report['ratio_worst_round']}x (target >= 0.9x); {mails.delivered} e-mails, "
              f"{mails.duplicates} duplicates")
    return 0 if token / password >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
