"""Stock per product and reservations, pure and in memory (one inventory-service process).

Every product starts with :data:`DEFAULT_STOCK` units. A reservation takes units of every
line or of none; its ``Idempotency-Key`` (per caller) makes a retried reserve return the
first answer, reservation or refusal, without taking stock twice. Releasing is idempotent.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_STOCK", "Line", "ReserveResult", "Stock"]

DEFAULT_STOCK = 1000
"""Units of every product a fresh inventory holds."""


@dataclass(frozen=True)
class Line:
    """One line of a check or reservation."""

    product_id: int
    """The catalog's product id."""
    quantity: int
    """Units (>= 1)."""


@dataclass(frozen=True)
class ReserveResult:
    """A reservation's outcome (also what a retry with the same key gets)."""

    reservation_id: str | None
    """``res_...``, None when refused."""
    missing: tuple[int, ...] = ()
    """Products without enough stock (refused when not empty)."""

    def json(self) -> dict[str, Any]:
        """The HTTP answer's body."""
        if self.reservation_id is None:
            return {"error": "out_of_stock", "missing": list(self.missing),
                    "message": "not enough stock for products " + ", ".join(map(str, self.missing))}
        return {"reservationId": self.reservation_id, "status": "reserved"}


@dataclass
class Stock:
    """The inventory (see the module docstring); thread-safe."""

    initial: int = DEFAULT_STOCK
    """Units of a product never seen before."""
    _levels: dict[int, int] = field(default_factory=dict)
    _reservations: dict[str, tuple[Line, ...]] = field(default_factory=dict)
    _released: set[str] = field(default_factory=set)
    _by_key: dict[tuple[str, str], ReserveResult] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def level(self, product_id: int) -> int:
        """Units available now."""
        with self._lock:
            return self._levels.get(product_id, self.initial)

    def set_level(self, product_id: int, units: int) -> None:
        """Set a product's units (tests and the demo)."""
        with self._lock:
            self._levels[product_id] = units

    def missing(self, lines: list[Line]) -> tuple[int, ...]:
        """Products of ``lines`` without enough units (empty: all available)."""
        with self._lock:
            return self._missing(lines)

    def _missing(self, lines: list[Line]) -> tuple[int, ...]:
        wanted: dict[int, int] = {}
        for line in lines:
            wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
        return tuple(sorted(p for p, q in wanted.items() if self._levels.get(p, self.initial) < q))

    def reserve(self, caller: str, key: str, lines: list[Line], *,
                force_out_of_stock: bool = False) -> tuple[ReserveResult, bool]:
        """Reserve ``lines`` once per (``caller``, ``key``); True when this call decided."""
        with self._lock:
            found = self._by_key.get((caller, key))
            if found is not None:
                return found, False
            missing = (tuple(sorted({ln.product_id for ln in lines})) if force_out_of_stock
                       else self._missing(lines))
            if missing:
                result = ReserveResult(None, missing)
            else:
                for line in lines:
                    self._levels[line.product_id] = (
                        self._levels.get(line.product_id, self.initial) - line.quantity)
                rid = "res_" + uuid.uuid4().hex[:16]
                self._reservations[rid] = tuple(lines)
                result = ReserveResult(rid)
            self._by_key[(caller, key)] = result
            return result, True

    def release(self, reservation_id: str) -> str:
        """Give a reservation's units back: ``released``, ``already_released`` or ``unknown``."""
        with self._lock:
            lines = self._reservations.get(reservation_id)
            if lines is None:
                return "unknown"
            if reservation_id in self._released:
                return "already_released"
            for line in lines:
                self._levels[line.product_id] = (
                    self._levels.get(line.product_id, self.initial) + line.quantity)
            self._released.add(reservation_id)
            return "released"

    def counts(self) -> dict[str, int]:
        """``reservations`` made and ``released`` (for /healthz)."""
        with self._lock:
            return {"reservations": len(self._reservations), "released": len(self._released)}
