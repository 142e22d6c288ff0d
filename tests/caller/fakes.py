"""In-process token endpoint and clock for the caller tests (no sockets, no sleeping)."""

from __future__ import annotations

import base64
import itertools
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

import httpx
import pytest

from svcauth.caller import ClientConfig, ClientCredentialsSource, ClientSecretBasic

TOKEN_URL = "https://idp.test/realms/techstore/protocol/openid-connect/token"
SECRET = "s3cr3t-Value-that-must-never-leak-9f8e7d"


class FakeClock:
    """A monotonic clock the test moves by hand; thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A sleep that only moves the clock: retries run in zero real time."""
        self.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.advance(seconds)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` real seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.001)


class FlightWaiters:
    """Counts threads blocked on a CachingTokenSource's fetch in flight.

    ``install(monkeypatch)`` counts every blocking wait of the sync driver on a flight
    (``svcauth._flow._wait_sync``), so a test can wait until N threads really wait instead
    of sleeping.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FlightWaiters:
        from svcauth import _flow

        waiters = self
        wait = _flow._wait_sync

        def counting_wait(step: _flow.Wait) -> str:
            with waiters._lock:
                waiters.count += 1
            return wait(step)

        monkeypatch.setattr(_flow, "_wait_sync", counting_wait)
        return self


def refreshing() -> bool:
    """Whether a background refresh thread of a CachingTokenSource is running."""
    return any(t.name == "svcauth-refresh" for t in threading.enumerate())


def token_value(n: int) -> str:
    """A JWT-looking token, distinct per ``n``."""
    body = base64.urlsafe_b64encode(json.dumps({"n": n}).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.sig-{n:06d}-abcdef"


@dataclass
class FakeTokenEndpoint:
    """A token endpoint as a MockTransport handler; counts requests, scripted failures.

    ``script`` holds responses (or exceptions) to give first, in order; after it runs out
    every request gets a fresh token with ``expires_in``.
    """

    expires_in: int = 300
    script: list[httpx.Response | Exception] = field(default_factory=list)
    secrets: set[str] = field(default_factory=lambda: {SECRET})
    gate: threading.Event | None = None
    on_request: Callable[[httpx.Request], None] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        return len(self.requests)

    def form(self, i: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[i].content.decode()))

    def _authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            _cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return unquote_plus(secret) in self.secrets
        form = dict(parse_qsl(request.content.decode()))
        return form.get("client_secret") in self.secrets or "client_assertion" in form

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            scripted = self.script.pop(0) if self.script else None
            n = next(self._ids)
        if self.on_request is not None:
            self.on_request(request)
        if self.gate is not None:
            assert self.gate.wait(30), "test gate never opened"
        if isinstance(scripted, Exception):
            raise scripted
        if scripted is not None:
            return scripted
        if not self._authorized(request):
            return httpx.Response(401, json={"error": "invalid_client",
                                             "error_description": "Invalid client credentials"})
        return httpx.Response(200, json={"access_token": token_value(n), "token_type": "Bearer",
                                         "expires_in": self.expires_in, "scope": "profile"})


def make_source(
    endpoint: FakeTokenEndpoint, clock: FakeClock, *, async_handler: Callable[..., object] | None = None,
    sleep: Callable[[float], None] | None = None, rng: random.Random | None = None,
    **config: object,
) -> ClientCredentialsSource:
    """A ClientCredentialsSource talking to ``endpoint`` over MockTransport on ``clock``."""
    fields: dict[str, object] = {"client_id": "shop-api", "auth": ClientSecretBasic(SECRET),
                                 "token_endpoint": TOKEN_URL}
    fields.update(config)
    transport = httpx.MockTransport(endpoint)
    atransport = httpx.MockTransport(async_handler or endpoint)  # type: ignore[arg-type]
    return ClientCredentialsSource(
        ClientConfig(**fields),  # type: ignore[arg-type]
        http=httpx.Client(transport=transport), ahttp=httpx.AsyncClient(transport=atransport),
        clock=clock, wall_clock=lambda: 1_700_000_000.0 + clock.now, sleep=sleep or clock.sleep,
        asleep=clock.asleep, rng=rng,
    )
