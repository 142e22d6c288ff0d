"""Pure and single-process parts of MockMart: config, backoff, dispatcher retries, the mail
message, the SMTP sink over a real socket."""

from __future__ import annotations

import asyncio
import smtplib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockmart.config import MockMartConfig, client_secret_variable
from mockmart.services.notification_service.mailer import build_message, send_message
from mockmart.storage import OutboxEvent, open_store
from mockmart.system.processes import listen_socket
from mockmart.system.smtp_sink import count_mailbox, read_mailbox, serve_until
from mockmart.workers.outbox_dispatcher import DeliveryFailed, Dispatcher, backoff_delay

# -- config ---------------------------------------------------------------------------------

def test_config_reads_the_seed_variables_and_builds_keycloak_urls() -> None:
    config = MockMartConfig.from_env({
        "KEYCLOAK_URL": "http://keycloak:8080/", "KEYCLOAK_PUBLIC_URL": "http://127.0.0.1:9090",
        "KEYCLOAK_REALM": "techstore", "KEYCLOAK_AUTH_PATH": "auth",
        "KEYCLOAK_CLIENT_ID": "shop-api", "KEYCLOAK_CLIENT_SECRET": "s3cret",
        "NOTIFICATION_URL": "http://127.0.0.1:8082/", "DATABASE_URL": "postgresql://db/x",
        "SMTP_HOST": "mail", "SMTP_PORT": "25"}, defaults={})
    assert config.issuer == "http://127.0.0.1:9090/auth/realms/techstore"
    assert config.jwks_uri == "http://keycloak:8080/auth/realms/techstore/protocol/openid-connect/certs"
    assert config.token_endpoint.endswith("/auth/realms/techstore/protocol/openid-connect/token")
    assert (config.notification_url, config.database_url, config.smtp_host, config.smtp_port) == (
        "http://127.0.0.1:8082", "postgresql://db/x", "mail", 25)
    assert "s3cret" not in repr(config)


def test_config_defaults_come_from_dev_env_but_never_the_secret() -> None:
    config = MockMartConfig.from_env({"KEYCLOAK_CLIENT_ID": "shop-api"},
                                     defaults={"KEYCLOAK_URL": "http://127.0.0.1:8080",
                                               "SHOP_API_CLIENT_SECRET": "x"})
    assert config.issuer == "http://127.0.0.1:8080/realms/techstore"
    assert config.client_secret is None
    assert config.allowed_order_clients == frozenset({"shop-api"})


def test_config_reads_the_secret_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("from-file\n")
    config = MockMartConfig.from_env({"KEYCLOAK_CLIENT_SECRET_FILE": str(tmp_path / "secret")},
                                     defaults={})
    assert config.client_secret == "from-file"


def test_secret_variable_names_follow_dev_env() -> None:
    assert client_secret_variable("cart-reminder-job") == "CART_REMINDER_JOB_CLIENT_SECRET"


# -- backoff and dispatcher -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("attempts", "rand", "expected"),
    [(0, 0.0, 0.05), (0, 1.0, 0.1), (3, 0.0, 0.4), (10, 0.0, 2.5), (60, 1.0, 5.0)],
)
def test_backoff_doubles_with_jitter_up_to_the_cap(attempts: int, rand: float,
                                                   expected: float) -> None:
    assert backoff_delay(attempts, base=0.1, cap=5.0, rand=lambda: rand) == pytest.approx(expected)


@pytest.mark.anyio
async def test_dispatcher_retries_failures_and_marks_successes(tmp_path: Path) -> None:
    now = [1000.0]
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}", clock=lambda: now[0])
    refs = [store.create_order("sub", f"u{i}@example.com") for i in range(3)]
    calls: list[str] = []
    failing = {refs[1]}

    async def deliver(event: OutboxEvent) -> None:
        calls.append(event.payload["orderId"])
        if event.payload["orderId"] in failing:
            raise DeliveryFailed("notification-service answered 503")

    d = Dispatcher(store, deliver, worker="w", max_delay=5.0)
    assert await d.run_once() == 3
    assert (d.delivered, d.failures) == (2, 1)
    assert store.outbox_stats() == {"pending": 1, "done": 2, "deliveries": 2, "attempts": 1}
    assert await d.run_once() == 0  # the failed one waits for its backoff
    now[0] += 5.0
    failing.clear()
    assert await d.run_once() == 1
    assert store.outbox_stats() == {"pending": 0, "done": 3, "deliveries": 3, "attempts": 1}
    assert sorted(calls) == sorted([*refs, refs[1]])


@pytest.mark.anyio
async def test_dispatcher_run_stops_when_asked(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    store.create_order("sub", "a@example.com")
    delivered: list[int] = []

    async def deliver(event: OutboxEvent) -> None:
        delivered.append(event.id)

    stop = asyncio.Event()
    d = Dispatcher(store, deliver, worker="w", poll=0.01)
    task = asyncio.create_task(d.run(stop))
    for _ in range(500):
        if delivered:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(delivered) == 1


# -- e-mail ---------------------------------------------------------------------------------

def test_order_message_carries_a_message_id_derived_from_the_notification() -> None:
    msg = build_message(notification_id="ntf_1", kind="order", recipient="alice@example.com",
                        caller="shop-api", order_id="ord_9")
    assert msg["Message-ID"] == "<ntf_1@mockmart.test>"
    assert (msg["To"], msg["X-MockMart-Order"], msg["X-MockMart-Caller"]) == (
        "alice@example.com", "ord_9", "shop-api")
    assert "ord_9" in msg["Subject"]


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The SMTP sink on a loop in a background thread, on a real socket."""
    sock = listen_socket()
    port = sock.getsockname()[1]
    mail = tmp_path / "mail"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(serve_until(sock, mail, stop),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as s:
                s.noop()
            break
        except OSError:
            time.sleep(0.05)
    yield port, mail
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    loop.close()


def test_sink_files_each_message_and_sets_repeats_aside(sink: tuple[int, Path]) -> None:
    port, mail = sink
    first = build_message(notification_id="ntf_a", kind="order", recipient="a@example.com",
                          caller="shop-api", order_id="ord_a")
    other = build_message(notification_id="ntf_b", kind="reminder", recipient="b@example.com",
                          caller="cart-reminder-job", cart_id="cart_b")
    send_message(first, host="127.0.0.1", port=port)
    send_message(other, host="127.0.0.1", port=port)
    send_message(first, host="127.0.0.1", port=port)  # a repeat after a crash
    counts = count_mailbox(mail)
    assert (counts.delivered, counts.duplicates) == (2, 1)
    assert sorted(m["Message-ID"] for m in read_mailbox(mail)) == [
        "<ntf_a@mockmart.test>", "<ntf_b@mockmart.test>"]
    assert [m["Message-ID"] for m in read_mailbox(mail, duplicates=True)] == ["<ntf_a@mockmart.test>"]
