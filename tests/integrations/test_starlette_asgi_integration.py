"""Starlette ``AuthenticationBackend`` (with ``requires()``) and the plain ASGI middleware."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from integration_kit import (
    CASES,
    CHALLENGE,
    ROLE,
    Case,
    check,
    make_guard,
    secrets_in,
    token,
    unavailable_guard,
    uvicorn_server,
)
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from svcauth.asgi import ServiceAuthMiddleware
from svcauth.receiver._guard import Guard
from svcauth.starlette import ServiceAuthBackend, ServiceUser, on_error

# -- Starlette AuthenticationBackend ----------------------------------------------------------


@requires(["authenticated", ROLE])
async def notifications(request: Request) -> JSONResponse:
    user = request.user
    assert isinstance(user, ServiceUser)
    return JSONResponse({"client_id": user.identity.client_id})


@requires("authenticated", status_code=401)
async def anonymous_or_not(request: Request) -> JSONResponse:
    return JSONResponse({"client_id": request.user.display_name})


async def public(request: Request) -> JSONResponse:
    return JSONResponse({"authenticated": request.user.is_authenticated})


def starlette_app(guard: Guard[Any] | None = None, **backend: Any) -> Starlette:
    return Starlette(
        routes=[Route("/notifications", notifications, methods=["POST"]),
                Route("/maybe", anonymous_or_not), Route("/public", public),
                Route("/healthz", public)],
        middleware=[Middleware(AuthenticationMiddleware,
                               backend=ServiceAuthBackend(guard or make_guard(), **backend),
                               on_error=on_error)],
    )


@pytest.fixture(scope="module")
def starlette_client() -> Iterator[TestClient]:
    with TestClient(starlette_app()) as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_starlette_backend_answers_exactly(starlette_client: TestClient, case: Case) -> None:
    response = starlette_client.post("/notifications" + (f"?{case.query}" if case.query else ""),
                                     headers=case.headers())
    check(case, response.status_code, response.json(), response.headers)


def test_starlette_requires_sees_roles_as_auth_scopes() -> None:
    app = starlette_app()

    @requires(["authenticated", "notification-service:notifications:read"])
    async def read(request: Request) -> JSONResponse:
        return JSONResponse({})

    app.add_route("/read", read)
    with TestClient(app) as c:
        assert c.get("/read", headers={"Authorization": f"Bearer {token()}"}).status_code == 403
        scopes = c.get("/public", headers={"Authorization": f"Bearer {token()}"})
    assert scopes.json() == {"authenticated": True}


def test_starlette_allow_anonymous_lets_tokenless_requests_reach_requires() -> None:
    with TestClient(starlette_app(allow_anonymous=True)) as c:
        assert c.get("/public").json() == {"authenticated": False}
        assert c.get("/maybe").status_code == 401
        ok = c.get("/maybe", headers={"Authorization": f"Bearer {token()}"})
        assert ok.json() == {"client_id": "shop-api"}
        # bad credentials are still refused outright, never downgraded to anonymous
        bad = c.get("/public", headers={"Authorization": "Bearer abc"})
        assert bad.status_code == 401 and bad.json() == {"error": "Invalid token"}


def test_starlette_excluded_path_needs_no_token() -> None:
    with TestClient(starlette_app(exclude_paths=("/healthz",))) as c:
        assert c.get("/healthz").json() == {"authenticated": False}
        assert c.get("/public").status_code == 401


def test_starlette_unavailable_key_set_is_503() -> None:
    with TestClient(starlette_app(unavailable_guard())) as c:
        response = c.post("/notifications", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 503
    assert response.json() == {"error": "Authentication temporarily unavailable"}
    assert response.headers["retry-after"] == "30"


def test_starlette_on_error_leaves_other_backends_errors_alone() -> None:
    from starlette.authentication import AuthenticationError

    response = on_error(None, AuthenticationError("other"))  # type: ignore[arg-type]
    assert response.status_code == 400 and response.body == b"other"


# -- plain ASGI middleware ---------------------------------------------------------------------


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["auth"].client_id})
        await send({"type": "websocket.close", "code": 1000})
        return
    identity = scope.get("auth")
    body = (b'{"client_id":"' + identity.client_id.encode() + b'"}' if identity is not None
            else b'{"status":"ok"}')
    assert scope.get("state", {}).get("identity") is identity
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def asgi_client() -> Iterator[TestClient]:
    with TestClient(ServiceAuthMiddleware(bare_app, make_guard())) as c:  # type: ignore[arg-type]
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_asgi_middleware_answers_exactly(asgi_client: TestClient, case: Case) -> None:
    response = asgi_client.post("/notifications" + (f"?{case.query}" if case.query else ""),
                                headers=case.headers())
    check(case, response.status_code, response.json(), response.headers)
    if response.status_code >= 400:
        assert int(response.headers["content-length"]) == len(response.content)


def test_asgi_healthz_is_excluded_by_default(asgi_client: TestClient) -> None:
    assert asgi_client.get("/healthz").json() == {"status": "ok"}
    assert asgi_client.get("/healthz/x").status_code == 401


def test_asgi_websocket_with_token_is_accepted_and_without_is_closed(asgi_client: TestClient) -> None:
    with asgi_client.websocket_connect("/ws", headers={"Authorization": f"Bearer {token()}"}) as ws:
        assert ws.receive_text() == "shop-api"
    with pytest.raises(WebSocketDisconnect) as info, asgi_client.websocket_connect("/ws"):
        pass
    assert info.value.code == 1008


def test_asgi_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await bare_app(scope, receive, send)

    with TestClient(ServiceAuthMiddleware(app, make_guard())):  # type: ignore[arg-type]
        pass
    assert seen == ["lifespan"]


def test_asgi_include_code_adds_the_stable_code() -> None:
    with TestClient(ServiceAuthMiddleware(bare_app, make_guard(), include_code=True)) as c:  # type: ignore[arg-type]
        response = c.get("/x", headers={"Authorization": "Bearer abc"})
    assert response.json() == {"error": "Invalid token", "code": "token_malformed"}


def test_asgi_unavailable_key_set_is_503() -> None:
    with TestClient(ServiceAuthMiddleware(bare_app, unavailable_guard())) as c:  # type: ignore[arg-type]
        response = c.get("/x", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 503 and response.headers["retry-after"] == "30"
    assert response.headers.get("www-authenticate") is None


def test_no_token_is_logged_by_starlette_or_asgi(
    starlette_client: TestClient, asgi_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for case in CASES:
            starlette_client.post("/notifications", headers=case.headers())
            asgi_client.post("/notifications", headers=case.headers())
    assert secrets_in(caplog.text) == []
    assert CHALLENGE  # the refusals above were produced (checked row by row elsewhere)


def test_asgi_middleware_identity_reaches_request_state_of_a_starlette_app() -> None:
    async def who(request: Request) -> JSONResponse:
        return JSONResponse({"client_id": request.state.identity.client_id,
                             "same": request.scope["auth"] is request.state.identity})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    inner = Starlette(routes=[Route("/who", who), Route("/healthz", healthz)])
    app = ServiceAuthMiddleware(inner, make_guard(), exclude_paths=("/healthz",))  # type: ignore[arg-type]
    with TestClient(app) as c:
        assert c.get("/who", headers={"Authorization": f"Bearer {token()}"}).json() == {
            "client_id": "shop-api", "same": True}
        assert c.get("/who").status_code == 401
        assert c.get("/healthz").status_code == 200


@pytest.mark.parametrize("kind", ["starlette_backend", "asgi_middleware"])
def test_every_answer_is_exact_over_a_real_uvicorn_server(kind: str) -> None:
    import httpx

    app: Any = starlette_app() if kind == "starlette_backend" else ServiceAuthMiddleware(bare_app, make_guard())  # type: ignore[arg-type]
    with uvicorn_server(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        for case in CASES:
            response = http.post("/notifications" + (f"?{case.query}" if case.query else ""),
                                 headers=case.headers())
            check(case, response.status_code, response.json(), response.headers)
