"""Flask: ``require_service`` over Flask's test client and over a real WSGI server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, g
from integration_kit import (
    CASES,
    Case,
    check,
    make_guard,
    secrets_in,
    token,
    unavailable_guard,
    wsgi_server,
)
from werkzeug.datastructures import Headers

from svcauth.flask import require_service
from svcauth.receiver._guard import Guard


def flask_app(guard: Guard[Any] | None = None, **options: Any) -> Flask:
    app = Flask("svcauth-test")
    guard = guard or make_guard()

    @app.post("/notifications")
    @require_service(guard, **options)
    def send() -> dict[str, str]:
        return {"client_id": g.identity.client_id}

    return app


def _werkzeug_headers(case: Case) -> Headers:
    headers = Headers()
    for name, value in case.headers():
        headers.add(name, value.decode("latin-1") if isinstance(value, bytes) else value)
    return headers


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flask_answers_exactly_over_the_test_client(case: Case) -> None:
    client = flask_app().test_client()
    response = client.post("/notifications", query_string=case.query or None,
                           headers=_werkzeug_headers(case))
    # Werkzeug's test environ joins repeated headers with ", " as WSGI servers do.
    check(case, response.status_code, response.get_json(), response.headers, server="wsgi")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flask_async_view_wrapper_uses_aauthenticate(case: Case) -> None:
    """``async def`` views get an async wrapper that awaits ``aauthenticate`` (run here
    directly, without Flask's event-loop bridge)."""
    calls: list[str] = []
    guard = make_guard()
    original = guard.authenticate

    def no_sync(*args: Any, **kwargs: Any) -> Any:
        calls.append("sync")
        return original(*args, **kwargs)

    guard.authenticate = no_sync  # type: ignore[method-assign]

    async def view() -> dict[str, str]:
        return {"client_id": g.identity.client_id}

    wrapped = require_service(guard)(view)
    app = Flask("svcauth-test")
    with app.test_request_context("/n", method="POST", query_string=case.query or None,
                                  headers=_werkzeug_headers(case)):
        result = asyncio.run(wrapped())
        response = app.make_response(result)
    check(case, response.status_code, response.get_json(), response.headers, server="wsgi")
    assert calls == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flask_async_view_answers_exactly_through_flask(case: Case) -> None:
    """The same table through Flask's own async view support (``svcauth[flask]`` brings
    ``flask[async]``), never calling the blocking ``authenticate``."""
    guard = make_guard()

    def blocking(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an async view must not use the blocking authenticate")

    guard.authenticate = blocking  # type: ignore[method-assign]
    app = Flask("svcauth-test")

    @app.post("/notifications")
    @require_service(guard)
    async def send() -> dict[str, str]:
        return {"client_id": g.identity.client_id}

    response = app.test_client().post("/notifications", query_string=case.query or None,
                                      headers=_werkzeug_headers(case))
    check(case, response.status_code, response.get_json(), response.headers, server="wsgi")


def test_flask_view_is_not_run_for_a_refused_request() -> None:
    calls: list[str] = []
    app = Flask("svcauth-test")

    @app.post("/n")
    @require_service(make_guard())
    def view() -> str:
        calls.append("ran")
        return "ok"

    assert app.test_client().post("/n").status_code == 401
    assert calls == []


def test_flask_identity_attribute_name_and_include_code() -> None:
    app = Flask("svcauth-test")

    @app.post("/n")
    @require_service(make_guard(), attribute="caller", include_code=True)
    def view() -> dict[str, str]:
        return {"client_id": g.caller.client_id}

    client = app.test_client()
    assert client.post("/n", headers={"Authorization": f"Bearer {token()}"}).get_json() == {
        "client_id": "shop-api"}
    assert client.post("/n", headers={"Authorization": "Bearer x"}).get_json() == {
        "error": "Invalid token", "code": "token_malformed"}


def test_flask_unavailable_key_set_is_503() -> None:
    client = flask_app(unavailable_guard()).test_client()
    response = client.post("/notifications", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 503
    assert response.get_json() == {"error": "Authentication temporarily unavailable"}
    assert response.headers["Retry-After"] == "30"


def test_flask_logs_nothing_of_a_token(caplog: pytest.LogCaptureFixture) -> None:
    client = flask_app().test_client()
    with caplog.at_level(logging.DEBUG):
        for case in CASES:
            client.post("/notifications", headers=_werkzeug_headers(case))
    assert secrets_in(caplog.text) == []


@pytest.fixture(scope="module")
def wsgi_url() -> Iterator[str]:
    with wsgi_server(flask_app()) as url:
        yield url


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flask_answers_exactly_over_a_real_wsgi_server(wsgi_url: str, case: Case) -> None:
    with httpx.Client(base_url=wsgi_url, timeout=10) as http:
        response = http.post("/notifications" + (f"?{case.query}" if case.query else ""),
                             headers=case.headers())
    # wsgiref joins repeated headers with "," in the environ: refused as malformed.
    check(case, response.status_code, response.json(), response.headers, server="wsgi")
