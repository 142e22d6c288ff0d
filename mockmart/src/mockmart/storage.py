"""MockMart's storage: orders + outbox (shop-api) and sent notifications (notification-service).

One small interface, :class:`Store`, over two backends chosen by ``DATABASE_URL``:

- ``sqlite:///path`` (default, a file under ``var/``): WAL mode; every write transaction starts
  with ``BEGIN IMMEDIATE``, so writers are serialized and the outbox claim (select due rows,
  lease them) is atomic: a safe single-writer claim, even with several processes on one file.
- ``postgresql://...`` (psycopg 3): the claim is one ``UPDATE ... WHERE id IN (SELECT ... FOR
  UPDATE SKIP LOCKED) RETURNING``, so several dispatcher replicas never claim the same row.

Claims are *leases* (``locked_until``): the dispatcher holds no database lock while it calls
notification-service, and a replica that dies mid-delivery only delays its events until the
lease runs out. Times are epoch seconds from an injectable clock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = ["Notification", "OutboxEvent", "Reservation", "Store", "open_store"]

Clock = Callable[[], float]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
  id {pk}, order_ref TEXT NOT NULL UNIQUE, user_sub TEXT NOT NULL, user_email TEXT NOT NULL,
  payment_status TEXT, created_at {real} NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  id {pk}, event_type TEXT NOT NULL, payload TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at {real} NOT NULL, locked_by TEXT, locked_until {real},
  deliveries INTEGER NOT NULL DEFAULT 0, delivered_by TEXT, delivered_at {real},
  last_error TEXT, created_at {real} NOT NULL, trace_context TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS notifications (
  id TEXT PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  order_id TEXT, recipient TEXT NOT NULL, caller TEXT NOT NULL,
  status TEXT NOT NULL, lease_until {real} NOT NULL, requests INTEGER NOT NULL DEFAULT 1,
  created_at {real} NOT NULL, sent_at {real}, caller_claims TEXT);
"""


@dataclass(frozen=True)
class OutboxEvent:
    """An event claimed from the outbox: deliver it, then mark it delivered or retry it."""

    id: int
    """Outbox row id (also the delivery's idempotency key: ``outbox-<id>``)."""
    event_type: str
    """``order.completed``."""
    payload: dict[str, Any]
    """What to deliver: ``{"orderId", "userEmail"}``; nothing secret is ever stored."""
    attempts: int
    """Failed delivery attempts so far."""
    trace_context: dict[str, str] | None = None
    """W3C trace context of the checkout that stored it (``traceparent``, ``tracestate``),
    so its delivery, however late, continues the checkout's trace."""


@dataclass(frozen=True)
class Reservation:
    """The outcome of reserving an idempotency key before sending a notification."""

    id: str
    """The notification id (stable per key: it is also the e-mail's Message-ID)."""
    action: Literal["send", "done", "busy"]
    """``send``: this request must send it; ``done``: already sent; ``busy``: another
    request holds a live lease on it (answer 409 and let the caller retry)."""


@dataclass(frozen=True)
class Notification:
    """A row of the notifications log (``GET /api/notifications``)."""

    id: str
    """Notification id."""
    kind: str
    """``order`` or ``reminder``."""
    order_id: str | None
    """The order it is about, if any."""
    recipient: str
    """To whom the e-mail went."""
    caller: str
    """The client id of the service that asked for it."""
    status: str
    """``sending`` or ``sent``."""
    requests: int
    """How many times it was requested (idempotent repeats included)."""
    created_at: float
    """When it was first requested (epoch seconds)."""
    sent_at: float | None
    """When the e-mail was handed to SMTP (epoch seconds)."""
    caller_claims: dict[str, Any] | None = None
    """The verified caller's identity claims accepted with the first request (see
    :mod:`mockmart.services.notification_service.caller_claims`); never a token. None for rows
    written before the column existed."""


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


Execute = Callable[[str, Sequence[Any]], _Cursor]


class _Backend(Protocol):
    dialect: str

    def transaction(self) -> Any: ...


class _SQLite:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Execute]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")

        def run(sql: str, params: Sequence[Any] = ()) -> _Cursor:
            return conn.execute(sql, tuple(params))

        try:
            yield run
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class _Postgres:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg  # the demo extra; only needed when DATABASE_URL says postgresql

        self._psycopg = psycopg
        self._url = url
        self._local = threading.local()

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._psycopg.connect(self._url, autocommit=True)
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Execute]:
        conn = self._conn()

        def run(sql: str, params: Sequence[Any] = ()) -> _Cursor:
            cursor: _Cursor = conn.execute(sql.replace("?", "%s"), tuple(params))
            return cursor

        with conn.transaction():
            yield run


class Store:
    """Orders, outbox and notifications over SQLite or PostgreSQL (see the module docstring)."""

    def __init__(self, backend: _Backend, *, clock: Clock = time.time) -> None:
        self._db = backend
        self._clock = clock
        self.dialect: str = backend.dialect
        """``sqlite`` or ``postgresql``."""

    def create_schema(self) -> None:
        """Create the tables if they do not exist (idempotent)."""
        if self.dialect == "sqlite":
            ddl = _SCHEMA.format(pk="INTEGER PRIMARY KEY AUTOINCREMENT", real="REAL")
        else:
            ddl = _SCHEMA.format(pk="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION")
        with self._db.transaction() as run:
            if self.dialect == "postgresql":
                # Two replicas may start together: serialize their CREATE TABLE IF NOT EXISTS.
                run("SELECT pg_advisory_xact_lock(4242)", ())
            for statement in ddl.split(";"):
                if statement.strip():
                    run(statement, ())
            self._add_column(run, "outbox", "trace_context")
            self._add_column(run, "notifications", "caller_claims")
            for column in ("status", "total_cents", "items", "idem_key"):  # the shop's orders
                self._add_column(run, "orders", column)

    def _add_column(self, run: Execute, table: str, column: str) -> None:
        """Migrations: databases created before ``outbox.trace_context`` or
        ``notifications.caller_claims`` existed get the (TEXT, nullable) column."""
        if self.dialect == "postgresql":
            run(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} TEXT", ())
            return
        columns = {row[1] for row in run(f"PRAGMA table_info({table})", ()).fetchall()}
        if column not in columns:
            run(f"ALTER TABLE {table} ADD COLUMN {column} TEXT", ())

    # -- shop-api: orders and outbox ------------------------------------------------------

    def create_order(self, user_sub: str, user_email: str,
                     trace_context: dict[str, str] | None = None) -> str:
        """Store an order and its ``order.completed`` outbox event in one transaction;
        ``trace_context`` (W3C headers of the checkout's span) is stored with the event."""
        now = self._clock()
        order_ref = "ord_" + uuid.uuid4().hex[:16]
        payload = json.dumps({"orderId": order_ref, "userEmail": user_email})
        context = json.dumps(trace_context) if trace_context else None
        with self._db.transaction() as run:
            run("INSERT INTO orders (order_ref, user_sub, user_email, created_at) VALUES (?,?,?,?)",
                (order_ref, user_sub, user_email, now))
            run("INSERT INTO outbox (event_type, payload, next_attempt_at, created_at, "
                "trace_context) VALUES (?,?,?,?,?)",
                ("order.completed", payload, now, now, context))
        return order_ref

    def record_payment(self, order_ref: str, status: str) -> bool:
        """Set an order's payment status; False when there is no such order. A numeric
        ``order_ref`` (the original MockMart's ids) also matches the order's row id."""
        with self._db.transaction() as run:
            if order_ref.isdigit():
                cur = run("UPDATE orders SET payment_status = ? WHERE order_ref = ? OR id = ?",
                          (status, order_ref, int(order_ref)))
            else:
                cur = run("UPDATE orders SET payment_status = ? WHERE order_ref = ?",
                          (status, order_ref))
            return bool(cur.rowcount == 1)

    def transaction(self) -> Any:
        """A write transaction on this store's database (a context manager yielding
        ``run(sql, params)``): for the modules that keep their own tables here."""
        return self._db.transaction()

    def claim_events(self, worker: str, *, limit: int = 10, lease: float = 30.0) -> list[OutboxEvent]:
        """Lease up to ``limit`` due events to ``worker``; no other worker gets them meanwhile."""
        now = self._clock()
        with self._db.transaction() as run:
            if self.dialect == "postgresql":
                rows = run(
                    "UPDATE outbox SET locked_by = ?, locked_until = ? WHERE id IN ("
                    "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                    "AND (locked_until IS NULL OR locked_until < ?) ORDER BY id LIMIT ? "
                    "FOR UPDATE SKIP LOCKED) RETURNING id, event_type, payload, attempts, trace_context",
                    (worker, now + lease, now, now, limit)).fetchall()
            else:
                # BEGIN IMMEDIATE holds the write lock: select + lease is atomic.
                rows = run("SELECT id, event_type, payload, attempts, trace_context FROM outbox "
                           "WHERE status = 'pending' AND next_attempt_at <= ? "
                           "AND (locked_until IS NULL OR locked_until < ?) ORDER BY id LIMIT ?",
                           (now, now, limit)).fetchall()
                for row in rows:
                    run("UPDATE outbox SET locked_by = ?, locked_until = ? WHERE id = ?",
                        (worker, now + lease, row[0]))
        events = [OutboxEvent(r[0], r[1], json.loads(r[2]), r[3],
                              json.loads(r[4]) if r[4] else None) for r in rows]
        return sorted(events, key=lambda e: e.id)

    def mark_delivered(self, event_id: int, worker: str) -> None:
        """Mark an event done (delivered by ``worker``) and release its lease."""
        with self._db.transaction() as run:
            run("UPDATE outbox SET status = 'done', deliveries = deliveries + 1, delivered_by = ?, "
                "delivered_at = ?, locked_by = NULL, locked_until = NULL WHERE id = ?",
                (worker, self._clock(), event_id))

    def mark_retry(self, event_id: int, *, delay: float, error: str) -> None:
        """Count a failed attempt, release the lease and make the event due after ``delay``."""
        with self._db.transaction() as run:
            run("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
                "locked_by = NULL, locked_until = NULL WHERE id = ? AND status = 'pending'",
                (self._clock() + delay, error[:200], event_id))

    def outbox_stats(self) -> dict[str, int]:
        """Counts: ``pending``, ``done``, ``deliveries`` (sum), ``attempts`` (failed, sum)."""
        with self._db.transaction() as run:
            row = run("SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), "
                      "COALESCE(SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END), 0), "
                      "COALESCE(SUM(deliveries), 0), COALESCE(SUM(attempts), 0) FROM outbox",
                      ()).fetchone()
        return {"pending": int(row[0]), "done": int(row[1]), "deliveries": int(row[2]),
                "attempts": int(row[3])}

    def deliveries_by_worker(self) -> dict[str, list[int]]:
        """For tests and the demo: which worker delivered which events, and how often."""
        with self._db.transaction() as run:
            rows = run("SELECT delivered_by, deliveries FROM outbox WHERE status = 'done'",
                       ()).fetchall()
        out: dict[str, list[int]] = {}
        for worker, deliveries in rows:
            out.setdefault(str(worker), []).append(int(deliveries))
        return out

    # -- notification-service: idempotent sends -------------------------------------------

    def reserve_notification(
        self, key: str, *, kind: str, order_id: str | None, recipient: str, caller: str,
        lease: float = 30.0, caller_claims: dict[str, Any] | None = None,
    ) -> Reservation:
        """Reserve ``key`` before sending (see notification_service for the ordering).

        The unique ``idem_key`` makes concurrent requests race on one INSERT; exactly one
        wins ``send``. A repeat after ``sent`` gets ``done``; a repeat while another request
        holds the lease gets ``busy``; a repeat after the lease ran out (the sender crashed
        before recording) takes the lease over and gets ``send`` again. ``caller_claims``
        (JSON-able, never a token) is stored with the row the first request creates.
        """
        now = self._clock()
        new_id = "ntf_" + uuid.uuid4().hex[:20]
        with self._db.transaction() as run:
            cur = run("INSERT INTO notifications (id, idem_key, kind, order_id, recipient, caller, "
                      "status, lease_until, created_at, caller_claims) "
                      "VALUES (?,?,?,?,?,?,'sending',?,?,?) ON CONFLICT (idem_key) DO NOTHING",
                      (new_id, key, kind, order_id, recipient, caller, now + lease, now,
                       json.dumps(caller_claims) if caller_claims is not None else None))
            if cur.rowcount == 1:
                return Reservation(new_id, "send")
            select = "SELECT id, status, lease_until FROM notifications WHERE idem_key = ?"
            if self.dialect == "postgresql":
                select += " FOR UPDATE"
            found, status, lease_until = run(select, (key,)).fetchone()
            run("UPDATE notifications SET requests = requests + 1 WHERE id = ?", (found,))
            if status == "sent":
                return Reservation(found, "done")
            if lease_until > now:
                return Reservation(found, "busy")
            run("UPDATE notifications SET lease_until = ? WHERE id = ?", (now + lease, found))
            return Reservation(found, "send")

    def mark_sent(self, notification_id: str) -> None:
        """Record that the e-mail was handed to SMTP."""
        with self._db.transaction() as run:
            run("UPDATE notifications SET status = 'sent', sent_at = ? WHERE id = ?",
                (self._clock(), notification_id))

    def release_notification(self, notification_id: str) -> None:
        """Give the lease back after a failed send, so the next request may retry at once."""
        with self._db.transaction() as run:
            run("UPDATE notifications SET lease_until = 0 WHERE id = ? AND status = 'sending'",
                (notification_id,))

    def list_notifications(self, *, limit: int = 1000) -> list[Notification]:
        """The most recent notifications first."""
        with self._db.transaction() as run:
            rows = run("SELECT id, kind, order_id, recipient, caller, status, requests, created_at, "
                       "sent_at, caller_claims FROM notifications ORDER BY created_at DESC, id "
                       "LIMIT ?", (limit,)).fetchall()
        return [Notification(id=r[0], kind=r[1], order_id=r[2], recipient=r[3], caller=r[4],
                             status=r[5], requests=r[6], created_at=r[7], sent_at=r[8],
                             caller_claims=json.loads(r[9]) if r[9] else None) for r in rows]


def open_store(database_url: str, *, base_dir: Path | None = None, clock: Clock = time.time,
               store_class: type[Store] = Store) -> Store:
    """Open (and create the schema of) the store ``database_url`` names.

    ``sqlite:///relative/path`` is relative to ``base_dir`` (default: the working directory),
    ``sqlite:////abs/path`` absolute; ``postgresql://`` / ``postgres://`` use psycopg 3.
    ``store_class`` lets tests wrap a method (e.g. to simulate a crash).
    """
    backend: _Backend
    if database_url.startswith(("postgresql://", "postgres://")):
        backend = _Postgres(database_url)
    elif database_url.startswith("sqlite:///"):
        raw = database_url[len("sqlite:///"):]
        path = Path(raw)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        backend = _SQLite(path)
    else:
        raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")
    store = store_class(backend, clock=clock)
    store.create_schema()
    return store
