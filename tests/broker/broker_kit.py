"""Small helpers of the broker tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mockmart.config import client_secret_variable
from mockmart.system.broker_node import BrokerNode, BrokerUnavailable, NodeConfig
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
)
from svcauth.devidp import DevIdP

WORKER_LIFETIME = 10
"""Seconds an order-events-worker token lives in the broker session."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def start_node(idp_jwks: str, run_dir: Path, **options: object) -> BrokerNode:
    """A started node trusting ``idp_jwks``; skip (fail in CI) when RabbitMQ cannot be had."""
    node = BrokerNode(NodeConfig(jwks_url=idp_jwks, **options), run_dir)  # type: ignore[arg-type]
    try:
        return node.start()
    except BrokerUnavailable as exc:
        if in_ci():
            pytest.fail(f"RabbitMQ is required in CI: {exc}", pytrace=False)
        pytest.skip(f"RabbitMQ unavailable here: {exc}")
    except RuntimeError as exc:
        node.stop()
        pytest.fail(f"RabbitMQ node did not start: {exc}", pytrace=False)




class StaticSource:
    """A token source handing out one fixed token (a minted one: expired, wrong audience...)."""

    def __init__(self, token: str) -> None:
        self.access_token = token
        self.invalidated: list[str] = []

    def token(self) -> str:
        return self.access_token

    async def atoken(self) -> str:
        return self.access_token

    def invalidate(self, access_token: str) -> None:
        self.invalidated.append(access_token)


def token_requests(idp: DevIdP, client_id: str) -> int:
    """client_credentials requests ``client_id`` made at ``idp`` so far."""
    counts: dict[str, int] = idp.stats()["token_requests"].get(client_id, {})
    return counts.get("client_credentials", 0)


def token_source(idp_token_endpoint: str, client_id: str,
                 env: dict[str, str]) -> CachingTokenSource:
    """A caching client-credentials source for ``client_id`` with its dev secret."""
    return CachingTokenSource(ClientCredentialsSource(ClientConfig(
        client_id=client_id, auth=ClientSecretBasic(env[client_secret_variable(client_id)]),
        token_endpoint=idp_token_endpoint)))


def start_stack(options):  # type: ignore[no-untyped-def]
    """A started MockMart stack with ``options.broker``; skip (fail in CI) when RabbitMQ
    cannot be had."""
    from mockmart.system.stack import Stack

    stack = Stack(options)
    try:
        return stack.start()
    except BrokerUnavailable as exc:
        if in_ci():
            pytest.fail(f"RabbitMQ is required in CI: {exc}", pytrace=False)
        pytest.skip(f"RabbitMQ unavailable here: {exc}")


def queue_depth(node: BrokerNode, queue: str) -> int:
    """Messages ready in ``queue`` (a passive declare as the node's password admin)."""
    import pika

    params = pika.ConnectionParameters(
        "127.0.0.1", node.port, credentials=pika.PlainCredentials("admin", node.admin_password))
    with pika.BlockingConnection(params) as conn:
        result = conn.channel().queue_declare(queue, passive=True)
        return int(result.method.message_count)
