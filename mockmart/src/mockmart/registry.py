"""MockMart's services, one entry each: what ``mockmart serve``, the stack and ``up`` use.

A new service is its own package (``create_app(config, *, guards)``) plus one
:class:`ServiceEntry` here naming its app factory and the :mod:`mockmart.security` function
that builds its guards: a service never imports ``security`` (which imports the services'
guard types), so the two stay one-way. shop-api and the order-events worker keep their own
start-up (replicas, dispatcher, broker) in the stack, but are served through the same table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from mockmart.config import MockMartConfig

__all__ = ["BACKENDS", "SERVICES", "ServiceEntry", "build_app"]


@dataclass(frozen=True)
class ServiceEntry:
    """One MockMart service process."""

    name: str
    """Process and client name (``KEYCLOAK_CLIENT_ID``; also its audience)."""
    factory: str
    """``module:function`` building the ASGI app from a :class:`MockMartConfig` and its
    ``guards``."""
    port: int
    """Default port of ``mockmart up``."""
    url_variable: str = ""
    """The variable other processes find it by (``INVENTORY_URL``), empty when none."""
    guards: str = ""
    """``function`` of :mod:`mockmart.security` building the factory's ``guards`` from the
    configuration; empty for a service that builds its own (the storefront, the worker)."""


SERVICES: dict[str, ServiceEntry] = {e.name: e for e in (
    ServiceEntry("notification-service", "mockmart.services.notification_service.app:create_app", 8082,
                 "NOTIFICATION_URL", "notification_guards"),
    ServiceEntry("inventory-service", "mockmart.services.inventory_service.app:create_app", 8083,
                 "INVENTORY_URL", "inventory_guards"),
    ServiceEntry("payment-service", "mockmart.services.payment_service.app:create_app", 8084,
                 "PAYMENT_URL", "payment_guards"),
    ServiceEntry("shop-api", "mockmart.services.shop_api.app:create_app", 8081,
                 guards="shop_guards"),
    ServiceEntry("order-events-worker", "mockmart.workers.order_events_app:create_app", 0),
    ServiceEntry("storefront", "mockmart.services.storefront.app:create_app", 8085, "STOREFRONT_URL"),
)}
"""Every service ``mockmart serve`` knows, by name."""

BACKENDS: tuple[str, ...] = ("notification-service", "inventory-service", "payment-service")
"""The services behind shop-api, started (in this order) before it."""


def build_app(name: str, config: MockMartConfig, **options: Any) -> Any:
    """The ASGI app of service ``name`` (``options`` go to its factory; its guards are built
    by :mod:`mockmart.security` unless ``options`` hold them)."""
    entry = SERVICES[name]
    if entry.guards and "guards" not in options:
        from mockmart import security

        options["guards"] = getattr(security, entry.guards)(config)
    module, _, function = entry.factory.partition(":")
    return getattr(importlib.import_module(module), function)(config, **options)
