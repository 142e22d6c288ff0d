"""shop-api's catalog and orders, in shop-api's own database (beside the outbox).

- ``products``: the catalog (seeded on first start with :data:`SEED_PRODUCTS`), edited by
  the ``admin`` role.
- ``orders`` (the table :mod:`mockmart.storage` created, with four more columns): a
  checkout's order goes ``pending`` -> ``confirmed`` (its ``order.completed`` outbox event in
  the same transaction) or ``failed``. ``(user_sub, idem_key)`` is unique, so a retried
  checkout with the same ``Idempotency-Key`` finds the first one instead of a second order.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mockmart.storage import Store

__all__ = ["SEED_PRODUCTS", "Order", "Product", "ShopStore"]

SEED_PRODUCTS: tuple[tuple[str, str, str, int], ...] = (
    ("Mock Widget", "The classic widget, now with fewer sharp edges.", "gadgets", 1999),
    ("Token Toaster", "Toasts a fresh token every 300 seconds.", "kitchen", 4900),
    ("JWKS Jar", "Keeps your public keys fresh; rotate before use.", "kitchen", 1250),
    ("Bearer Backpack", "Carries anything; whoever holds it may use it.", "outdoor", 7999),
    ("DPoP Padlock", "Useless to anyone without the key.", "gadgets", 2599),
    ("Outbox Tent", "At-least-once shelter for every weather.", "outdoor", 15900),
)
"""(name, description, category, price in cents) of the catalog a new database starts with."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
  id {pk}, name TEXT NOT NULL, description TEXT NOT NULL, category TEXT NOT NULL,
  price_cents INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS orders_idem ON orders (user_sub, idem_key);
"""


@dataclass(frozen=True)
class Product:
    """One catalog entry."""

    id: int
    """Row id (the ``productId`` of a checkout item)."""
    name: str
    """Display name."""
    description: str
    """One line of text."""
    category: str
    """Category name (for the storefront's filter)."""
    price_cents: int
    """Unit price in cents."""

    def json(self) -> dict[str, Any]:
        """The contract's product object."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "category": self.category, "price_cents": self.price_cents}


@dataclass(frozen=True)
class Order:
    """One order of the shop (``GET /api/orders``)."""

    order_id: str
    """``ord_...``."""
    user_sub: str
    """The buyer (``sub``)."""
    status: str
    """``pending``, ``confirmed``, ``failed`` (or ``created`` for the legacy body)."""
    total_cents: int
    """Sum of the lines."""
    items: list[dict[str, Any]]
    """``{"productId", "name", "quantity", "price_cents"}`` per line."""
    created_at: float
    """Epoch seconds."""

    def json(self) -> dict[str, Any]:
        """The contract's order object."""
        return {"orderId": self.order_id, "status": self.status,
                "total_cents": self.total_cents, "items": self.items,
                "created_at": self.created_at}


def _product(row: Any) -> Product:
    return Product(int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))


def _order(row: Any) -> Order:
    return Order(order_id=str(row[0]), user_sub=str(row[1]), status=str(row[2] or "created"),
                 total_cents=int(row[3] or 0), items=json.loads(row[4]) if row[4] else [],
                 created_at=float(row[5]))


_SELECT_ORDERS = "SELECT order_ref, user_sub, status, total_cents, items, created_at FROM orders "


class ShopStore:
    """Catalog and orders over a :class:`~mockmart.storage.Store` (see the module docs)."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        pk = ("INTEGER PRIMARY KEY AUTOINCREMENT" if store.dialect == "sqlite"
              else "BIGSERIAL PRIMARY KEY")
        with store.transaction() as run:
            for statement in _SCHEMA.format(pk=pk).split(";"):
                if statement.strip():
                    run(statement, ())
            if run("SELECT COUNT(*) FROM products", ()).fetchone()[0] == 0:
                for name, description, category, price in SEED_PRODUCTS:
                    run("INSERT INTO products (name, description, category, price_cents) "
                        "VALUES (?,?,?,?)", (name, description, category, price))

    # -- catalog --

    def products(self, *, query: str = "", category: str = "") -> list[Product]:
        """Products whose name or description holds ``query`` (any case), in ``category``."""
        sql = "SELECT id, name, description, category, price_cents FROM products WHERE 1=1"
        params: list[Any] = []
        if query:
            sql += " AND (LOWER(name) LIKE ? OR LOWER(description) LIKE ?)"
            like = "%" + query.lower().replace("%", "").replace("_", "") + "%"
            params += [like, like]
        if category:
            sql += " AND category = ?"
            params.append(category)
        with self.store.transaction() as run:
            return [_product(r) for r in run(sql + " ORDER BY id", params).fetchall()]

    def categories(self) -> list[str]:
        """Every category, sorted."""
        with self.store.transaction() as run:
            rows = run("SELECT DISTINCT category FROM products ORDER BY category", ()).fetchall()
        return [str(r[0]) for r in rows]

    def product(self, product_id: int) -> Product | None:
        """One product, None when unknown."""
        with self.store.transaction() as run:
            row = run("SELECT id, name, description, category, price_cents FROM products "
                      "WHERE id = ?", (product_id,)).fetchone()
        return None if row is None else _product(row)

    def save_product(self, product_id: int | None, name: str, description: str, category: str,
                     price_cents: int) -> Product | None:
        """Create (``product_id`` None) or replace a product; None when it does not exist."""
        with self.store.transaction() as run:
            if product_id is None:
                row = run("INSERT INTO products (name, description, category, price_cents) "
                          "VALUES (?,?,?,?) RETURNING id",
                          (name, description, category, price_cents)).fetchone()
                product_id = int(row[0])
            elif run("UPDATE products SET name = ?, description = ?, category = ?, "
                     "price_cents = ? WHERE id = ?",
                     (name, description, category, price_cents, product_id)).rowcount != 1:
                return None
        return Product(product_id, name, description, category, price_cents)

    # -- orders --

    def begin_order(self, user_sub: str, email: str, idem_key: str | None,
                    items: list[dict[str, Any]], total_cents: int) -> tuple[Order, bool]:
        """A ``pending`` order, or the one this user's ``idem_key`` already made; the
        second value is True when it is new."""
        now = self._clock()
        ref = "ord_" + uuid.uuid4().hex[:16]
        with self.store.transaction() as run:
            if idem_key is not None:
                row = run(_SELECT_ORDERS + "WHERE user_sub = ? AND idem_key = ?",
                          (user_sub, idem_key)).fetchone()
                if row is not None:
                    return _order(row), False
            run("INSERT INTO orders (order_ref, user_sub, user_email, created_at, status, "
                "total_cents, items, idem_key) VALUES (?,?,?,?,?,?,?,?)",
                (ref, user_sub, email, now, "pending", str(total_cents), json.dumps(items),
                 idem_key))
        return Order(ref, user_sub, "pending", total_cents, items, now), True

    def finish_order(self, order_id: str, status: str, email: str,
                     trace_context: dict[str, str] | None = None) -> None:
        """Set the final status; ``confirmed`` also stores the ``order.completed`` event in
        the same transaction (the outbox delivers it once committed)."""
        now = self._clock()
        with self.store.transaction() as run:
            run("UPDATE orders SET status = ? WHERE order_ref = ?", (status, order_id))
            if status == "confirmed":
                run("INSERT INTO outbox (event_type, payload, next_attempt_at, created_at, "
                    "trace_context) VALUES (?,?,?,?,?)",
                    ("order.completed", json.dumps({"orderId": order_id, "userEmail": email}),
                     now, now, json.dumps(trace_context) if trace_context else None))

    def abandon_order(self, order_id: str) -> None:
        """An order cut short by an outage: ``abandoned``, its key freed for the retry."""
        with self.store.transaction() as run:
            run("UPDATE orders SET status = 'abandoned', idem_key = NULL WHERE order_ref = ?",
                (order_id,))

    def order(self, user_sub: str, order_id: str) -> Order | None:
        """One of the user's orders."""
        with self.store.transaction() as run:
            row = run(_SELECT_ORDERS + "WHERE user_sub = ? AND order_ref = ?",
                      (user_sub, order_id)).fetchone()
        return None if row is None else _order(row)

    def orders(self, user_sub: str) -> list[Order]:
        """The user's orders, newest first."""
        with self.store.transaction() as run:
            rows = run(_SELECT_ORDERS + "WHERE user_sub = ? "
                       "ORDER BY created_at DESC, id DESC", (user_sub,)).fetchall()
        return [_order(r) for r in rows]
