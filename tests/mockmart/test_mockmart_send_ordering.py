"""notification-service's ordering (reserve -> send -> record) under the failures it is
built for: a crash between sending and recording, and SMTP down. In-process app (ASGI),
real DevIdP and real SMTP sink on 127.0.0.1, injected clock for the lease."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockmart.config import REALM_FILE, MockMartConfig, dev_env
from mockmart.registry import build_app
from mockmart.storage import Store, open_store
from mockmart.system.processes import listen_socket
from mockmart.system.smtp_sink import count_mailbox, serve_until
from svcauth.devidp import DevIdP


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CrashingStore(Store):
    """A store whose next ``mark_sent`` fails, as if the process died right after sending."""

    crash_next = False

    def mark_sent(self, notification_id: str) -> None:
        if self.crash_next:
            self.crash_next = False
            raise RuntimeError("simulated crash between send and record")
        super().mark_sent(notification_id)


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdP]:
    with DevIdP(REALM_FILE, env=dev_env()) as provider:
        yield provider


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    sock = listen_socket()
    mail = tmp_path / "mail"
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete,
                              args=(serve_until(sock, mail, stop),), daemon=True)
    thread.start()
    yield sock.getsockname()[1], mail
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    loop.close()


def _service(idp: DevIdP, smtp_port: int, tmp_path: Path,
             clock: Clock) -> tuple[httpx.AsyncClient, CrashingStore]:
    config = MockMartConfig(client_id="notification-service", keycloak_url=idp.base_url,
                            keycloak_public_url=idp.base_url, smtp_port=smtp_port)
    store = open_store(f"sqlite:///{tmp_path / 'n.db'}", clock=clock, store_class=CrashingStore)
    assert isinstance(store, CrashingStore)
    app = build_app("notification-service", config, store=store)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                               base_url="http://notification-service")
    return client, store


@pytest.mark.anyio
async def test_crash_between_send_and_record_resends_with_the_same_message_id(
        idp: DevIdP, smtp: tuple[int, Path], tmp_path: Path) -> None:
    port, mail = smtp
    clock = Clock()
    client, store = _service(idp, port, tmp_path, clock)
    headers = {"Authorization": f"Bearer {idp.mint_token('shop-api')}"}
    body = {"orderId": "ord_crash", "userEmail": "alice@example.com"}
    async with client:
        store.crash_next = True
        crashed = await client.post("/api/notifications/order", json=body, headers=headers)
        assert crashed.status_code == 500
        assert count_mailbox(mail).delivered == 1  # the e-mail left before the "crash"
        retry = await client.post("/api/notifications/order", json=body, headers=headers)
        assert (retry.status_code, retry.json()["error"]) == (409, "in_progress")  # lease held
        clock.now += 31  # the lease of the crashed request runs out
        taken = await client.post("/api/notifications/order", json=body, headers=headers)
        assert (taken.status_code, taken.json()["duplicate"]) == (202, False)
        again = await client.post("/api/notifications/order", json=body, headers=headers)
        assert (again.status_code, again.json()["duplicate"], again.json()["id"]) == (
            202, True, taken.json()["id"])
    counts = count_mailbox(mail)
    # SMTP is not transactional: the takeover sent again, with the same Message-ID, which
    # the mail store recognises; no e-mail was lost and none is filed twice.
    assert (counts.delivered, counts.duplicates) == (1, 1)


@pytest.mark.anyio
async def test_smtp_down_answers_503_and_the_retry_sends_at_once(
        idp: DevIdP, tmp_path: Path) -> None:
    closed = listen_socket()
    dead_port = closed.getsockname()[1]
    closed.close()
    clock = Clock()
    client, store = _service(idp, dead_port, tmp_path, clock)
    headers = {"Authorization": f"Bearer {idp.mint_token('shop-api')}"}
    body = {"orderId": "ord_smtp", "userEmail": "alice@example.com"}
    async with client:
        down = await client.post("/api/notifications/order", json=body, headers=headers)
        assert (down.status_code, down.json()["error"], down.headers["retry-after"]) == (
            503, "smtp_unavailable", "1")
        (row,) = store.list_notifications()
        assert (row.status, row.requests) == ("sending", 1)
        again = await client.post("/api/notifications/order", json=body, headers=headers)
        assert again.status_code == 503  # lease was released: it tried again, not 409
