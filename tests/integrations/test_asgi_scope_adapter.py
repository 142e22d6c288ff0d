"""The ASGI integrations (FastAPI dependency, Starlette backend, plain ASGI middleware) share
one request-from-scope adapter: for the same raw scope they hand the guard the same
headers, query check and audit endpoint (``url_path``, never the raw ``path``), and answer
the same refusal. Driven in process with raw ASGI scopes (no server needed for this)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from integration_kit import make_guard, token
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import PlainTextResponse

from svcauth.asgi import ServiceAuthMiddleware
from svcauth.fastapi import ServiceAuth, install_error_handlers
from svcauth.receiver._guard import AuthDecision
from svcauth.receiver._scope import authenticate_scope, scope_endpoint
from svcauth.starlette import ServiceAuthBackend, on_error


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


def _apps(guard: Any) -> dict[str, Any]:
    fast = FastAPI()
    install_error_handlers(fast)

    @fast.post("/{rest:path}", dependencies=[Depends(ServiceAuth(guard))])
    async def anything(rest: str) -> str:
        return "ok"

    star = Starlette(middleware=[Middleware(AuthenticationMiddleware,
                                            backend=ServiceAuthBackend(guard),
                                            on_error=on_error)])
    star.add_route("/{rest:path}", lambda request: PlainTextResponse("ok"), methods=["POST"])
    return {"fastapi": fast, "starlette": star, "asgi": ServiceAuthMiddleware(_ok, guard)}


def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]],
          query: bytes = b"") -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": query, "headers": headers,
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


PATHS = [("/plain", "POST /plain"), ("/a?b", "POST /a%3Fb"), ("/a#b", "POST /a%23b"),
         ("/a\\b", "POST /a%5Cb")]


@pytest.mark.parametrize(("path", "endpoint"), PATHS, ids=[p[0] for p in PATHS])
@pytest.mark.parametrize("server", ["fastapi", "starlette", "asgi"])
def test_every_asgi_integration_audits_the_same_endpoint(server: str, path: str,
                                                         endpoint: str) -> None:
    decisions: list[AuthDecision] = []
    guard = make_guard()
    guard.audit = decisions.append
    app = _apps(guard)[server]
    auth = [(b"authorization", f"Bearer {token()}".encode())]
    assert _call(app, path, auth)[0] == 200
    assert _call(app, path, [])[0] == 401
    assert [(d.allowed, d.code, d.endpoint) for d in decisions] == [
        (True, None, endpoint), (False, "token_missing", endpoint)]


@pytest.mark.parametrize("server", ["fastapi", "starlette", "asgi"])
def test_every_asgi_integration_refuses_a_query_token_beside_the_header(server: str) -> None:
    app = _apps(make_guard())[server]
    auth = [(b"authorization", f"Bearer {token()}".encode())]
    status, body = _call(app, "/x", auth, query=b"access%5Ftoken=1")
    assert (status, body) == (400, b'{"error":"Invalid request"}')


def test_the_adapter_reads_the_scope_as_the_guard_expects() -> None:
    assert scope_endpoint({"path": "/a?b"}) == "WEBSOCKET /a%3Fb"
    assert scope_endpoint({"method": "GET", "path": "/x"}) == "GET /x"
    guard = make_guard()
    scope = {"headers": [(b"authorization", f"Bearer {token()}".encode())], "method": "GET",
             "path": "/x"}
    identity = asyncio.run(_await(authenticate_scope(guard, scope)))
    assert identity.client_id == "shop-api"


async def _await(awaitable: Any) -> Any:
    return await awaitable
