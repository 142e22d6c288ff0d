"""Storage: orders + outbox with leased claims, idempotent notification reservations,
on SQLite and on PostgreSQL (same tests, both backends)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from mockmart.storage import Store, open_store


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, clock: Clock) -> Store:
    return open_store(db_url, clock=clock)


def test_order_and_its_event_are_stored_together(store: Store) -> None:
    ref = store.create_order("alice-sub", "alice@example.com")
    events = store.claim_events("w1")
    assert [(e.event_type, e.payload, e.attempts) for e in events] == [
        ("order.completed", {"orderId": ref, "userEmail": "alice@example.com"}, 0)]
    assert store.outbox_stats() == {"pending": 1, "done": 0, "deliveries": 0, "attempts": 0}


def test_claimed_event_is_invisible_to_other_workers_until_its_lease_ends(
        store: Store, clock: Clock) -> None:
    store.create_order("s", "a@example.com")
    assert len(store.claim_events("w1", lease=30)) == 1
    assert store.claim_events("w2") == []
    clock.now += 31
    assert [e.attempts for e in store.claim_events("w2")] == [0]


def test_retry_makes_the_event_due_again_after_the_delay(store: Store, clock: Clock) -> None:
    store.create_order("s", "a@example.com")
    (event,) = store.claim_events("w1")
    store.mark_retry(event.id, delay=2.0, error="notification-service answered 503")
    assert store.claim_events("w1") == []
    clock.now += 2.0
    (again,) = store.claim_events("w1")
    assert (again.id, again.attempts) == (event.id, 1)


def test_delivered_event_is_done_and_never_claimed_again(store: Store, clock: Clock) -> None:
    store.create_order("s", "a@example.com")
    (event,) = store.claim_events("w1")
    store.mark_delivered(event.id, "w1")
    clock.now += 3600
    assert store.claim_events("w1") == []
    assert store.outbox_stats() == {"pending": 0, "done": 1, "deliveries": 1, "attempts": 0}
    assert store.deliveries_by_worker() == {"w1": [1]}


def test_claim_respects_the_batch_limit_in_id_order(store: Store) -> None:
    for i in range(5):
        store.create_order("s", f"u{i}@example.com")
    first = store.claim_events("w1", limit=3)
    second = store.claim_events("w2", limit=3)
    assert [e.payload["userEmail"] for e in first] == ["u0@example.com", "u1@example.com",
                                                       "u2@example.com"]
    assert [e.payload["userEmail"] for e in second] == ["u3@example.com", "u4@example.com"]


def test_payment_is_recorded_only_for_a_known_order(store: Store) -> None:
    ref = store.create_order("s", "a@example.com")
    assert store.record_payment(ref, "captured") is True
    assert store.record_payment("ord_unknown", "captured") is False


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([], ["send"], id="first-request-sends"),
        pytest.param(["again"], ["send", "busy"], id="repeat-while-sending-is-busy"),
        pytest.param(["sent", "again"], ["send", "done"], id="repeat-after-sent-is-done"),
        pytest.param(["expire", "again"], ["send", "send"], id="repeat-after-lease-takes-over"),
        pytest.param(["release", "again"], ["send", "send"], id="repeat-after-failed-send-retries"),
    ],
)
def test_reservation_outcomes(store: Store, clock: Clock, steps: list[str],
                              expected: list[str]) -> None:
    kwargs = {"kind": "order", "order_id": "ord_1", "recipient": "a@example.com",
              "caller": "shop-api", "lease": 30.0}
    first = store.reserve_notification("order:ord_1", **kwargs)  # type: ignore[arg-type]
    actions = [first.action]
    for step in steps:
        if step == "sent":
            store.mark_sent(first.id)
        elif step == "expire":
            clock.now += 31
        elif step == "release":
            store.release_notification(first.id)
        else:
            again = store.reserve_notification("order:ord_1", **kwargs)  # type: ignore[arg-type]
            assert again.id == first.id
            actions.append(again.action)
    assert actions == expected


def test_concurrent_reservations_of_one_key_let_exactly_one_send(store: Store) -> None:
    results: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def reserve() -> None:
        start.wait()
        r = store.reserve_notification("order:ord_x", kind="order", order_id="ord_x",
                                       recipient="a@example.com", caller="shop-api")
        with lock:
            results.append(r.action)

    threads = [threading.Thread(target=reserve) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert Counter(results) == {"send": 1, "busy": 15}
    (row,) = store.list_notifications()
    assert (row.requests, row.status, row.caller) == (16, "sending", "shop-api")


def test_concurrent_claims_hand_each_event_to_one_worker(store: Store) -> None:
    for i in range(60):
        store.create_order("s", f"u{i}@example.com")
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(name: str) -> None:
        start.wait()
        while True:
            events = store.claim_events(name, limit=4)
            if not events:
                return
            with lock:
                claimed.extend(e.id for e in events)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(claimed) == 60
    assert len(set(claimed)) == 60


CLAIMS = {"azp": "shop-api", "client_id": "shop-api", "aud": ["notification-service", "account"],
          "resource_access": {"notification-service": {"roles": ["notifications:send"]}},
          "iat": 1000, "exp": 1300}


def test_notification_keeps_the_caller_claims_of_its_first_request(store: Store) -> None:
    store.reserve_notification("order:ord_c", kind="order", order_id="ord_c",
                               recipient="a@example.com", caller="shop-api", caller_claims=CLAIMS)
    store.reserve_notification("order:ord_c", kind="order", order_id="ord_c",
                               recipient="a@example.com", caller="shop-api",
                               caller_claims={**CLAIMS, "iat": 2000})
    (row,) = store.list_notifications()
    assert (row.requests, row.caller_claims) == (2, CLAIMS)


def test_caller_claims_column_is_added_to_an_older_database(db_url: str, clock: Clock) -> None:
    old = open_store(db_url, clock=clock)
    with old._db.transaction() as run:  # as before the column existed
        run("ALTER TABLE notifications DROP COLUMN caller_claims", ())
        run("INSERT INTO notifications (id, idem_key, kind, recipient, caller, status, "
            "lease_until, created_at) VALUES ('ntf_old', 'k_old', 'order', 'a@example.com', "
            "'shop-api', 'sent', 0, 1)", ())
    store = open_store(db_url, clock=clock)
    store.reserve_notification("order:ord_new", kind="order", order_id="ord_new",
                               recipient="a@example.com", caller="shop-api", caller_claims=CLAIMS)
    rows = {r.id: r.caller_claims for r in store.list_notifications()}
    assert rows.pop("ntf_old") is None
    assert list(rows.values()) == [CLAIMS]
