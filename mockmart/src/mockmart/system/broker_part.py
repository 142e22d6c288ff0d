"""The broker's part in the running system (:class:`mockmart.system.stack.Stack` calls it): the
RabbitMQ node, started after the identity provider (its JWKS) and before the services, and
the order-events worker, started after notification-service."""

from __future__ import annotations

import shutil
from typing import Any

import httpx

from mockmart.system.broker_node import BrokerNode, NodeConfig
from mockmart.system.processes import ServiceProcess, wait_http
from mockmart.tracing import SPAN_FILE_VAR

__all__ = ["WORKER_CLIENT", "BrokerPart"]

WORKER_CLIENT = "order-events-worker"
"""The worker's client id."""


class BrokerPart:
    """Node and worker of one stack."""

    def __init__(self, stack: Any, delivery_limit: int = 5) -> None:
        self.stack = stack
        self.delivery_limit = delivery_limit
        self.node: BrokerNode | None = None
        self.worker: ServiceProcess | None = None

    def start_node(self) -> BrokerNode:
        """Begin the node's boot, trusting the stack's identity provider (the services start
        meanwhile; :meth:`start_worker` waits for it)."""
        jwks = self.stack.idp.issuer + "/protocol/openid-connect/certs"
        shutil.rmtree(self.stack.run_dir / "rabbitmq", ignore_errors=True)  # a fresh node
        self.node = BrokerNode(NodeConfig(jwks_url=jwks, delivery_limit=self.delivery_limit),
                               self.stack.run_dir / "rabbitmq").begin()
        return self.node

    def service_env(self) -> dict[str, str]:
        """What shop-api, notification-service and the worker add to their environment."""
        assert self.node is not None
        return {"MOCKMART_BROKER_URL": self.node.url,
                "MOCKMART_ORDER_CLIENTS": f"shop-api,{WORKER_CLIENT}",
                "MOCKMART_DELIVERY_LIMIT": str(self.delivery_limit)}

    def start_worker(self) -> ServiceProcess:
        """Start the order-events worker and wait until it answers /healthz."""
        stack = self.stack
        assert self.node is not None
        self.node.wait()
        self.worker = ServiceProcess(
            WORKER_CLIENT, ["serve", WORKER_CLIENT],
            env={**stack.service_env(WORKER_CLIENT), **self.service_env(),
                 "DATABASE_URL": stack._database(WORKER_CLIENT),
                 SPAN_FILE_VAR: str(stack.span_file(WORKER_CLIENT))},
            log_path=stack.run_dir / "logs" / f"{WORKER_CLIENT}.log").start()
        wait_http(self.worker.url + "/healthz", process=self.worker)
        return self.worker

    def worker_health(self) -> dict[str, Any]:
        """The worker's /healthz document."""
        assert self.worker is not None
        result: dict[str, Any] = httpx.get(self.worker.url + "/healthz", timeout=5).json()
        return result

    def stop(self) -> None:
        """Stop the worker, then the node (a node already gone is fine)."""
        if self.worker is not None:
            self.worker.stop()
        if self.node is not None:
            self.node.stop()
