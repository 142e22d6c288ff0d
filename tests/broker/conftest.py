"""Broker fixtures: a local RabbitMQ node (``scripts/rabbitmq``, its own files in a temporary
directory, never the system-wide node) trusting the embedded identity provider, once per
session.

The node is skipped locally when RabbitMQ cannot be had (not installed and not installable);
with ``CI=true`` that is a failure (CI must run the broker tests). A node that is there but
does not boot always fails, with the tail of its log.

In this session the ``order-events-worker`` client's tokens live ``WORKER_LIFETIME`` seconds
(a copy of the realm with its ``access.token.lifespan``), so that renewal on a live
connection happens within a test's time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The MockMart delivery checks (checkouts, "each order mailed once") live with the fault
# tests; the broker's MockMart tests use the same ones.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from broker_kit import WORKER_LIFETIME, start_node

from mockmart.config import REALM_FILE, dev_env
from mockmart.system.broker_node import BrokerNode
from mockmart.system.stack import short_lifespan_realm
from svcauth.devidp import DevIdP


@pytest.fixture(scope="session")
def broker_env() -> dict[str, str]:
    return dev_env()


@pytest.fixture(scope="session")
def broker_idp(tmp_path_factory: pytest.TempPathFactory,
               broker_env: dict[str, str]) -> Iterator[DevIdP]:
    """The embedded provider of the broker session (worker tokens: WORKER_LIFETIME s)."""
    realm = short_lifespan_realm(REALM_FILE, tmp_path_factory.mktemp("realm") / "realm.json",
                                 seconds=WORKER_LIFETIME, clients=("order-events-worker",))
    idp = DevIdP(realm, env=broker_env).start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory, broker_idp: DevIdP) -> Iterator[BrokerNode]:
    """A RabbitMQ node trusting ``broker_idp``; password user ``bench`` / ``bench-password``."""
    node = start_node(broker_idp.jwks_uri, tmp_path_factory.mktemp("rabbitmq"),
                      password_users={"bench": "bench-password"})
    try:
        yield node
    finally:
        node.stop()
