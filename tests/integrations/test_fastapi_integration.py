"""FastAPI: ``ServiceAuth`` over the test client and over a real uvicorn server on 127.0.0.1."""

import logging
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from integration_kit import (
    CASES,
    CHALLENGE,
    Case,
    check,
    make_guard,
    secrets_in,
    token,
    unavailable_guard,
    uvicorn_server,
)

from svcauth.fastapi import AuthRefused, ServiceAuth, install_error_handlers
from svcauth.receiver import ServiceIdentity
from svcauth.receiver._guard import Guard


def build_app(guard: Guard[Any] | None = None, *, handlers: bool = True) -> FastAPI:
    app = FastAPI()
    if handlers:
        install_error_handlers(app)
    service_auth = ServiceAuth(guard or make_guard())

    @app.post("/notifications")
    async def send(identity: Annotated[ServiceIdentity, Depends(service_auth)]) -> dict[str, str]:
        return {"client_id": identity.client_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(build_app(), raise_server_exceptions=True) as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_answer_is_exact_over_the_test_client(client: TestClient, case: Case) -> None:
    response = client.post("/notifications" + (f"?{case.query}" if case.query else ""),
                           headers=case.headers())
    check(case, response.status_code, response.json(), response.headers)


def test_openapi_shows_an_http_bearer_scheme_on_the_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {"ServiceAuth": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "OAuth 2.0 access token (client credentials)"}}
    assert spec["paths"]["/notifications"]["post"]["security"] == [{"ServiceAuth": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_unprotected_route_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_unavailable_key_set_answers_503_with_retry_after() -> None:
    with TestClient(build_app(unavailable_guard())) as c:
        response = c.post("/notifications", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 503
    assert response.json() == {"error": "Authentication temporarily unavailable"}
    assert response.headers["retry-after"] == "30"
    assert "www-authenticate" not in response.headers


def test_without_installed_handlers_status_and_headers_still_hold_and_a_warning_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ServiceAuth._warned = False
    with caplog.at_level(logging.WARNING, logger="svcauth.fastapi"), \
            TestClient(build_app(handlers=False)) as c:
        response = c.post("/notifications")
    assert response.status_code == 401
    assert response.json() == {"detail": "No token provided"}
    assert response.headers["www-authenticate"] == CHALLENGE
    assert "install_error_handlers" in caplog.text


def test_refusal_exception_is_an_http_exception_carrying_the_svcauth_error() -> None:
    from starlette.exceptions import HTTPException

    from svcauth import MissingTokenError

    exc = AuthRefused(MissingTokenError("none"), realm="r")
    assert isinstance(exc, HTTPException)
    assert exc.status_code == 401 and exc.error.code == "token_missing"


def test_nothing_of_a_token_is_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for case in CASES:
            client.post("/notifications", headers=case.headers())
    assert secrets_in(caplog.text) == []


# -- a real server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with uvicorn_server(build_app()) as url:
        yield url


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_answer_is_exact_over_a_real_uvicorn_server(server_url: str, case: Case) -> None:
    with httpx.Client(base_url=server_url, timeout=10) as http:
        response = http.post("/notifications" + (f"?{case.query}" if case.query else ""),
                             headers=case.headers())
    check(case, response.status_code, response.json(), response.headers)


def test_real_server_survives_hostile_header_bytes(server_url: str) -> None:
    hostile = [b"Bearer \xff\xfe\x00", b"Bearer " + b"\x80" * 100, b"bearer " + b"." * 7000,
               b"Bearer eyJ" + b"%" * 50, b"B\xe9arer token"]
    with httpx.Client(base_url=server_url, timeout=10) as http:
        for value in hostile:
            try:
                response = http.post("/notifications", headers=[(b"Authorization", value)])
            except httpx.LocalProtocolError:
                continue  # the client itself refused to send it
            assert response.status_code in (400, 401), (value, response.status_code)
            assert set(response.json()) == {"error"}


def test_include_code_adds_the_stable_code_to_the_body() -> None:
    app = FastAPI()
    install_error_handlers(app, include_code=True)
    auth = ServiceAuth(make_guard(), scheme_name="ServiceToken")

    @app.get("/x")
    async def x(identity: Annotated[ServiceIdentity, Depends(auth)]) -> dict[str, str]:
        return {"client_id": identity.client_id}

    with TestClient(app) as c:
        refused = c.get("/x", headers={"Authorization": "Bearer a.b.c"})
        spec = c.get("/openapi.json").json()
    assert refused.json() == {"error": "Invalid token", "code": "token_malformed"}
    assert list(spec["components"]["securitySchemes"]) == ["ServiceToken"]
