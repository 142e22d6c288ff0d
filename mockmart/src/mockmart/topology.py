"""The order-events topology, declared by the node's definitions file at boot, so that no
service needs ``configure`` permission: services get only ``write`` (the relay) or ``read``
(the worker) on ``orders``.

``orders`` is a fanout exchange bound to the quorum queue ``orders``; a message redelivered
more than ``delivery_limit`` times is dead-lettered by the broker (``x-delivery-limit``) to
the ``orders.dead`` exchange and its queue of the same name.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from typing import Any

EXCHANGE = "orders"
"""Exchange the outbox relay publishes order events to."""
QUEUE = "orders"
"""Queue the order-events worker consumes."""
DEAD_LETTER = "orders.dead"
"""Dead-letter exchange and queue for poison messages."""
RELAY_SCOPE = "rabbitmq.write:*/orders"
"""What the relay's token must carry (write on the ``orders`` exchange, any vhost)."""
WORKER_SCOPE = "rabbitmq.read:*/orders"
"""What the worker's token must carry (read on the ``orders`` queue, any vhost)."""


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(delivery_limit: int, password_users: Mapping[str, str]) -> dict[str, Any]:
    """The definitions document: vhost ``/``, the topology, and ``password_users`` (internal
    backend users with every permission on ``/``: the admin and the benchmark's baseline)."""
    vhost = "/"

    def exchange(name: str) -> dict[str, Any]:
        return {"name": name, "vhost": vhost, "type": "fanout", "durable": True,
                "auto_delete": False, "internal": False, "arguments": {}}

    def queue(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False,
                "arguments": {"x-queue-type": "quorum", **arguments}}

    def binding(name: str) -> dict[str, Any]:
        return {"source": name, "vhost": vhost, "destination": name,
                "destination_type": "queue", "routing_key": "", "arguments": {}}

    return {
        "rabbit_version": "3.10.8",
        "users": [{"name": n, "password_hash": password_hash(p),
                   "hashing_algorithm": "rabbit_password_hashing_sha256",
                   "tags": ["administrator"]} for n, p in password_users.items()],
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": n, "vhost": vhost, "configure": ".*", "write": ".*",
                         "read": ".*"} for n in password_users],
        "exchanges": [exchange(EXCHANGE), exchange(DEAD_LETTER)],
        "queues": [queue(QUEUE, {"x-delivery-limit": delivery_limit,
                                 "x-dead-letter-exchange": DEAD_LETTER}),
                   queue(DEAD_LETTER, {})],
        "bindings": [binding(EXCHANGE), binding(DEAD_LETTER)],
    }
