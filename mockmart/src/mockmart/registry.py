"""MockMart's services, one entry each: what ``mockmart serve``, the stack and ``up`` use.

A new service is its own package (``create_app(config)`` building its guards from
:mod:`mockmart.security`) plus one :class:`ServiceEntry` here. shop-api and the
order-events worker keep their own start-up (replicas, dispatcher, broker) in the stack,
but are served through the same table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .config import MockMartConfig

__all__ = ["BACKENDS", "SERVICES", "ServiceEntry", "build_app"]


@dataclass(frozen=True)
class ServiceEntry:
    """One MockMart service process."""

    name: str
    """Process and client name (``KEYCLOAK_CLIENT_ID``; also its audience)."""
    factory: str
    """``module:function`` building the ASGI app from a :class:`MockMartConfig` (the
    function builds its guards from :mod:`mockmart.security` unless given them)."""
    port: int
    """Default port of ``mockmart up``."""
    url_variable: str = ""
    """The variable other processes find it by (``INVENTORY_URL``), empty when none."""


SERVICES: dict[str, ServiceEntry] = {e.name: e for e in (
    ServiceEntry("notification-service", "mockmart.notification_service.app:create_app", 8082,
                 "NOTIFICATION_URL"),
    ServiceEntry("inventory-service", "mockmart.inventory_service.app:create_app", 8083,
                 "INVENTORY_URL"),
    ServiceEntry("payment-service", "mockmart.payment_service.app:create_app", 8084,
                 "PAYMENT_URL"),
    ServiceEntry("shop-api", "mockmart.shop_api.app:create_app", 8081),
    ServiceEntry("order-events-worker", "mockmart.broker.worker_app:create_app", 0),
    ServiceEntry("storefront", "mockmart.storefront.app:create_app", 8085, "STOREFRONT_URL"),
)}
"""Every service ``mockmart serve`` knows, by name."""

BACKENDS: tuple[str, ...] = ("notification-service", "inventory-service", "payment-service")
"""The services behind shop-api, started (in this order) before it."""


def build_app(name: str, config: MockMartConfig, **options: Any) -> Any:
    """The ASGI app of service ``name`` (``options`` go to its factory)."""
    module, _, function = SERVICES[name].factory.partition(":")
    return getattr(importlib.import_module(module), function)(config, **options)
