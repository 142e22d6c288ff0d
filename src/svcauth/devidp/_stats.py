"""Request counters and injected faults of the provider (both thread-safe)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

ENDPOINTS = ("token", "certs", "discovery")
"""Endpoints a fault can be injected into."""


class Stats:
    """Counters tests read: token requests per client and grant, fetches, errors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._token: Counter[tuple[str, str]] = Counter()
            self._plain: Counter[str] = Counter()
            self._errors: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()

    def token_request(self, client_id: str | None, grant: str | None) -> None:
        """Count one token request (unnamed parts count as ``-``)."""
        with self._lock:
            self._token[(client_id or "-", grant or "-")] += 1

    def count(self, name: str) -> None:
        """Count a ``jwks_fetches``, ``discovery_fetches`` or ``introspections`` event."""
        with self._lock:
            self._plain[name] += 1

    def error(self, code: str) -> None:
        """Count an error answer by its ``error`` code."""
        with self._lock:
            self._errors[code] += 1

    def fault(self, endpoint: str) -> None:
        """Count an injected fault served on ``endpoint``."""
        with self._lock:
            self._faults[endpoint] += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of the counters."""
        with self._lock:
            token: dict[str, dict[str, int]] = {}
            for (client, grant), n in sorted(self._token.items()):
                token.setdefault(client, {})[grant] = n
            return {
                "token_requests": token,
                "token_requests_total": sum(self._token.values()),
                "jwks_fetches": self._plain["jwks_fetches"],
                "discovery_fetches": self._plain["discovery_fetches"],
                "introspections": self._plain["introspections"],
                "errors": dict(sorted(self._errors.items())),
                "faults_served": dict(sorted(self._faults.items())),
            }


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour of an endpoint."""

    status: int | None
    """Answer this status instead of the real answer (None: answer normally)."""
    delay: float
    """Seconds to wait before answering."""
    retry_after: int | None
    """``Retry-After`` header value to send with the status."""


class Faults:
    """Faults per endpoint, each for a number of requests or until cleared."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan: dict[str, tuple[Fault, int | None]] = {}

    def set(self, endpoint: str, fault: Fault, times: int | None) -> None:
        """Apply ``fault`` to the next ``times`` requests of ``endpoint`` (None: all)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"fault endpoint: expected one of {ENDPOINTS}, found {endpoint!r}")
        if times is not None and times < 1:
            raise ValueError(f"fault times: expected at least 1 or None, found {times}")
        with self._lock:
            self._plan[endpoint] = (fault, times)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._plan.clear()

    def take(self, endpoint: str) -> Fault | None:
        """The fault for this request of ``endpoint``, using up one of its ``times``."""
        with self._lock:
            entry = self._plan.get(endpoint)
            if entry is None:
                return None
            fault, times = entry
            if times is not None:
                if times <= 1:
                    del self._plan[endpoint]
                else:
                    self._plan[endpoint] = (fault, times - 1)
            return fault
