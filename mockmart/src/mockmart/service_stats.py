"""Per-service counters for ``/healthz`` and the demo: calls per route and refusals (401/403)
per route, counted by a tiny ASGI middleware, and the demo-mode switch every service reads.

The counters never hold a token or a header: only the route template's path and the status.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import MutableMapping
from typing import Any

__all__ = ["SIMULATE_HEADER", "CallStats", "demo_mode", "simulated"]

SIMULATE_HEADER = "mockmart-simulate"
"""The header shop-api sends (demo mode only) to ask a service for a simulated failure:
``out_of_stock`` (inventory) or ``payment_fails`` (payment). Ignored outside demo mode."""


def demo_mode(env: MutableMapping[str, str] | None = None) -> bool:
    """True when this process runs in demo mode (``MOCKMART_DEMO=1``, set by ``mockmart
    up``/``demo`` and by tests that ask for it): only then do failure switches exist."""
    source = os.environ if env is None else env
    return source.get("MOCKMART_DEMO", "") == "1"


def simulated(headers: Any, fault: str) -> bool:
    """True when the (already authorized) request asks for ``fault`` and demo mode is on."""
    value = headers.get(SIMULATE_HEADER, "") if headers is not None else ""
    return demo_mode() and fault in {v.strip() for v in str(value).split(",")}


class CallStats:
    """Counters of one service: ``METHOD /path -> calls`` and ``-> refusals`` (401/403).

    ``CallStats.install(app)`` registers the counting middleware on a FastAPI app.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        """Requests per ``METHOD /path`` (only ``/api/...`` routes)."""
        self.refusals: Counter[str] = Counter()
        """401 and 403 answers per ``METHOD /path status``."""

    @classmethod
    def install(cls, app: Any) -> CallStats:
        """Count every ``/api/`` request of ``app`` (a FastAPI/Starlette app)."""
        stats = cls()

        @app.middleware("http")
        async def count(request: Any, call_next: Any) -> Any:
            path = request.url.path
            if not path.startswith("/api/"):
                return await call_next(request)
            name = f"{request.method} {_template(path)}"
            stats.calls[name] += 1
            response = await call_next(request)
            if response.status_code in (401, 403):
                stats.refusals[f"{name} {response.status_code}"] += 1
            return response

        return stats

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{"calls": {...}, "refusals": {...}}`` (plain dicts, JSON-able)."""
        return {"calls": dict(self.calls), "refusals": dict(self.refusals)}


def _template(path: str) -> str:
    # Ids vary per call; the counters are per route: digits and generated ids become {id}.
    parts = [("{id}" if p.isdigit() or p.startswith(("res_", "ord_", "pay_")) else p)
             for p in path.split("/")]
    return "/".join(parts)
