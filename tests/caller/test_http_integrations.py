"""svcauth.httpx and svcauth.requests: the bearer header, and the one 401 retry rule.

Every source here holds a token obtained 10 s before the request (past the 5 s in which a
token counts as fresh from the identity provider), so a 401 may lead to one refresh; the
no-storm rule itself is tested in test_no_storm.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import BaseAdapter

import svcauth.httpx
import svcauth.requests
from svcauth.caller import CachingTokenSource, should_retry_unauthorized

from .fakes import FakeClock, FakeTokenEndpoint, make_source, token_value

OK = (200, None)


class ResourceServer:
    """Refuses the first ``refusals`` requests with (status, WWW-Authenticate), then 200."""

    def __init__(self, status: int, challenge: str | None, refusals: int = 1) -> None:
        self.status, self.challenge, self.refusals = status, challenge, refusals
        self.seen: list[tuple[str, bytes]] = []

    def answer(self, authorization: str, body: bytes) -> tuple[int, dict[str, str]]:
        self.seen.append((authorization, body))
        if len(self.seen) <= self.refusals:
            return self.status, ({"WWW-Authenticate": self.challenge} if self.challenge else {})
        return 200, {}

    def httpx_handler(self, request: httpx.Request) -> httpx.Response:
        status, headers = self.answer(request.headers["authorization"], request.read())
        return httpx.Response(status, headers=headers, text="ok" if status == 200 else "no")


# (name, status, WWW-Authenticate, expected sends, expected token fetches)
CASES = [
    ("401 invalid_token retries once", 401, 'Bearer realm="x", error="invalid_token"', 2, 2),
    ("401 with no error retries once", 401, 'Bearer realm="x"', 2, 2),
    ("401 with no header retries once", 401, None, 2, 2),
    ("401 invalid_request is not retried", 401, 'Bearer error="invalid_request"', 1, 1),
    ("403 is never retried", 403, 'Bearer error="insufficient_scope"', 1, 1),
    ("200 is just sent", 200, None, 1, 1),
]


def _source() -> tuple[CachingTokenSource, FakeTokenEndpoint]:
    """A source whose cached token (token_value(1)) was fetched 10 s ago: not fresh."""
    endpoint, clock = FakeTokenEndpoint(), FakeClock()
    source = CachingTokenSource(make_source(endpoint, clock))
    assert source.token() == token_value(1)
    clock.advance(10)
    return source, endpoint


@pytest.mark.parametrize(("name", "status", "challenge", "sends", "fetches"), CASES)
def test_httpx_sync(name: str, status: int, challenge: str | None, sends: int, fetches: int) -> None:
    source, endpoint = _source()
    rs = ResourceServer(status, challenge)
    with httpx.Client(transport=httpx.MockTransport(rs.httpx_handler),
                      auth=svcauth.httpx.BearerAuth(source)) as client:
        response = client.post("https://rs.test/orders", content=b"payload")
    assert (len(rs.seen), endpoint.count) == (sends, fetches)
    assert rs.seen[0] == (f"Bearer {token_value(1)}", b"payload")
    if sends == 2:
        assert rs.seen[1] == (f"Bearer {token_value(2)}", b"payload")
        assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "status", "challenge", "sends", "fetches"), CASES)
async def test_httpx_async(name: str, status: int, challenge: str | None, sends: int, fetches: int) -> None:
    source, endpoint = _source()
    rs = ResourceServer(status, challenge)
    async with httpx.AsyncClient(transport=httpx.MockTransport(rs.httpx_handler),
                                 auth=svcauth.httpx.BearerAuth(source)) as client:
        response = await client.post("https://rs.test/orders", json={"a": 1})
    assert (len(rs.seen), endpoint.count) == (sends, fetches)
    if sends == 2:
        assert rs.seen[1] == (f"Bearer {token_value(2)}", b'{"a":1}')
        assert response.status_code == 200


def test_httpx_retries_at_most_once() -> None:
    source, endpoint = _source()
    rs = ResourceServer(401, 'Bearer error="invalid_token"', refusals=10)
    with httpx.Client(transport=httpx.MockTransport(rs.httpx_handler),
                      auth=svcauth.httpx.BearerAuth(source)) as client:
        assert client.get("https://rs.test/").status_code == 401
    assert (len(rs.seen), endpoint.count) == (2, 2)


def test_httpx_streamed_body_is_not_replayed() -> None:
    source, endpoint = _source()
    rs = ResourceServer(401, 'Bearer error="invalid_token"')

    def body() -> Iterator[bytes]:
        yield b"chunk"

    with httpx.Client(transport=httpx.MockTransport(rs.httpx_handler),
                      auth=svcauth.httpx.BearerAuth(source)) as client:
        assert client.post("https://rs.test/", content=body()).status_code == 401
    assert (len(rs.seen), endpoint.count) == (1, 1)


@pytest.mark.anyio
async def test_httpx_async_streamed_body_is_not_replayed() -> None:
    source, endpoint = _source()
    rs = ResourceServer(401, None)

    async def body() -> AsyncIterator[bytes]:
        yield b"chunk"

    async with httpx.AsyncClient(transport=httpx.MockTransport(rs.httpx_handler),
                                 auth=svcauth.httpx.BearerAuth(source)) as client:
        assert (await client.post("https://rs.test/", content=body())).status_code == 401
    assert (len(rs.seen), endpoint.count) == (1, 1)


class FakeAdapter(BaseAdapter):
    """A requests transport answering from a ResourceServer, no sockets."""

    def __init__(self, rs: ResourceServer) -> None:
        super().__init__()
        self.rs = rs

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = request.body
        if hasattr(body, "read"):
            body = body.read()  # type: ignore[union-attr]
        raw = body.encode() if isinstance(body, str) else (body or b"")
        status, headers = self.rs.answer(request.headers["Authorization"], raw)  # type: ignore[arg-type]
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = b"ok"
        response.request = request
        response.url = request.url or ""
        response.connection = self  # type: ignore[attr-defined]
        return response

    def close(self) -> None:
        pass


def _session(rs: ResourceServer, source: CachingTokenSource) -> requests.Session:
    session = requests.Session()
    session.mount("https://", FakeAdapter(rs))
    session.auth = svcauth.requests.BearerAuth(source)
    return session


@pytest.mark.parametrize(("name", "status", "challenge", "sends", "fetches"), CASES)
def test_requests(name: str, status: int, challenge: str | None, sends: int, fetches: int) -> None:
    source, endpoint = _source()
    rs = ResourceServer(status, challenge)
    response = _session(rs, source).post("https://rs.test/orders", data=b"payload")
    assert (len(rs.seen), endpoint.count) == (sends, fetches)
    assert rs.seen[0] == (f"Bearer {token_value(1)}", b"payload")
    if sends == 2:
        assert rs.seen[1] == (f"Bearer {token_value(2)}", b"payload")
        assert (response.status_code, len(response.history)) == (200, 1)


def test_requests_retries_at_most_once() -> None:
    source, endpoint = _source()
    rs = ResourceServer(401, None, refusals=10)
    assert _session(rs, source).get("https://rs.test/").status_code == 401
    assert (len(rs.seen), endpoint.count) == (2, 2)


def test_requests_file_body_is_not_replayed(tmp_path: Any) -> None:
    source, endpoint = _source()
    rs = ResourceServer(401, None)
    path = tmp_path / "body"
    path.write_bytes(b"data")
    with path.open("rb") as fh:
        assert _session(rs, source).post("https://rs.test/", data=fh).status_code == 401
    assert (len(rs.seen), endpoint.count) == (1, 1)


@pytest.mark.parametrize(("status", "header", "retry"), [
    (401, 'Bearer realm="api", error="invalid_token", error_description="expired"', True),
    (401, "Bearer error=invalid_token", True),
    (401, 'Bearer realm="api"', True),
    (401, "", True),
    (401, 'Bearer error="insufficient_scope"', False),
    (403, None, False),
    (500, None, False),
])
def test_401_retry_rule(status: int, header: str | None, retry: bool) -> None:
    assert should_retry_unauthorized(status, header) is retry
