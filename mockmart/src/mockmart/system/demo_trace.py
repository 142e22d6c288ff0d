"""The demo's trace step: draw the first checkout's trace from the services' span files."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from mockmart.system.trace_tree import first_checkout_tree

__all__ = ["peer_names", "show_first_checkout_trace"]


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def peer_names(stack: Any) -> dict[str, str]:
    """``host:port`` -> the name the tree shows for each part of a running stack."""
    peers = {_address(stack.idp.base_url): "keycloak"}
    if stack.notification is not None:
        peers[_address(stack.notification.url)] = "notification-service"
    for shop in stack.shops:
        peers[_address(shop.url)] = "shop-api"
    if stack.smtp is not None:
        peers[f"127.0.0.1:{stack.smtp.port}"] = "smtp"
    if stack.broker is not None and stack.broker.worker is not None:
        peers[_address(stack.broker.worker.url)] = "order-events-worker"
    return peers


def show_first_checkout_trace(stack: Any, result: Any, say: Callable[[str], None]) -> None:
    """Add the first checkout's trace to ``result`` (``data["trace"]``) and say it as a tree;
    with the OpenTelemetry SDK installed, expect it to reach notification-service's SMTP
    send."""
    tree = first_checkout_tree(stack.run_dir / "spans", peer_names(stack))
    result.data["trace"] = {"trace_id": tree.trace_id or None, "services": tree.services,
                            "tree": tree.lines}
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        say("tracing off: the OpenTelemetry SDK is not installed (pip install ./mockmart)")
        return
    result.expect(any(" SMTP send" in line for line in tree.lines),
                  "the first checkout's trace does not reach notification-service's SMTP send")
    if not tree.lines:
        say("no trace of the first checkout was recorded")
        return
    say(f"trace of the first checkout ({tree.trace_id}), one trace across "
        f"{', '.join(tree.services)} (spans in {stack.run_dir / 'spans'}):")
    for line in tree.lines:
        say("    " + line)
