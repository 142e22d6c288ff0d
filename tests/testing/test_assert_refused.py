"""assert_refused: passes on every refusal a real svcauth app sends, and fails — naming
each difference — on a response that is not that refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from testing_support import NOW

from svcauth import KeySetUnavailableError
from svcauth.fastapi import ServiceAuth, install_error_handlers
from svcauth.receiver import Guard, ServicePolicy, Verifier
from svcauth.testing import TokenFactory, assert_refused, expected_refusal

ROLE = "billing-api:invoices:write"


class _Unavailable:
    issuer: str | None = None

    def get_key(self, kid: str | None, alg: str) -> Any:
        raise KeySetUnavailableError("no keys")

    async def aget_key(self, kid: str | None, alg: str) -> Any:
        raise KeySetUnavailableError("no keys")


def _app(factory: TokenFactory, *, include_code: bool = False, key_set: Any = None) -> TestClient:
    verifier = Verifier(issuer=factory.issuer, audience="billing-api", clock=lambda: NOW,
                        key_set=key_set or factory.static_key_set)
    guard = Guard(verifier, ServicePolicy(allowed_clients={"invoicing-job", "reporting-service"},
                                          required_roles={ROLE}), realm="billing")
    auth = ServiceAuth(guard)
    app = FastAPI()
    install_error_handlers(app, include_code=include_code)

    @app.get("/invoices", dependencies=[Depends(auth)])
    async def invoices() -> dict[str, str]:
        return {"ok": "yes"}

    return TestClient(app)


@pytest.fixture(scope="module")
def app(factory: TokenFactory) -> TestClient:
    return _app(factory)


Request = Callable[[TokenFactory], dict[str, Any]]

# (code, how the request is made, expected status)
REFUSALS: list[tuple[str, Request, int]] = [
    ("token_missing", lambda f: {}, 401),
    ("token_expired", lambda f: {"headers": f.headers("invoicing-job", expired=True)}, 401),
    ("key_not_found", lambda f: {"headers": f.headers("invoicing-job", key="unknown")}, 401),
    ("signature_invalid", lambda f: {"headers": f.headers("invoicing-job", key="forged")}, 401),
    ("issuer_mismatch", lambda f: {"headers": f.headers(
        "invoicing-job", claims={"iss": "https://other/realms/billing"})}, 401),
    ("audience_mismatch", lambda f: {"headers": f.headers("newsletter-service")}, 401),
    ("token_malformed", lambda f: {"headers": {"Authorization": "Bearer a.b.c"}}, 401),
    ("authorization_malformed", lambda f: {"headers": {"Authorization": "Bearer"}}, 400),
    ("authorization_repeated", lambda f: {"headers": [
        ("Authorization", f.headers("invoicing-job")["Authorization"]),
        ("Authorization", f.headers("invoicing-job")["Authorization"])]}, 400),
    ("insufficient_scope", lambda f: {"headers": f.headers("reporting-service")}, 403),
    ("unauthorized_service", lambda f: {"headers": f.headers(
        "newsletter-service", claims={"aud": "billing-api"})}, 403),
    ("not_service_account", lambda f: {"headers": f.headers("billing-portal", user="dana")}, 403),
]


@pytest.mark.parametrize(("code", "request_", "status"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_passes_on_the_real_refusal(app: TestClient, factory: TokenFactory, code: str,
                                    request_: Request, status: int) -> None:
    response = app.get("/invoices", **request_(factory))
    assert response.status_code == status
    assert_refused(response, status, code)
    assert_refused(response, code=code, realm="billing")
    assert_refused(response, status)


def test_passes_on_a_body_with_the_code(factory: TokenFactory) -> None:
    response = _app(factory, include_code=True).get(
        "/invoices", headers=factory.headers("invoicing-job", expired=True))
    assert response.json() == {"error": "Token expired", "code": "token_expired"}
    assert_refused(response, 401, "token_expired")


def test_passes_on_503_with_retry_after(factory: TokenFactory) -> None:
    response = _app(factory, key_set=_Unavailable()).get(
        "/invoices", headers=factory.headers("invoicing-job"))
    assert_refused(response, 503, "jwks_unavailable")


def test_insufficient_scope_scope_is_checked_when_given(app: TestClient,
                                                       factory: TokenFactory) -> None:
    response = app.get("/invoices", headers=factory.headers("reporting-service"))
    assert_refused(response, 403, "insufficient_scope", scope=ROLE)
    with pytest.raises(AssertionError) as info:
        assert_refused(response, 403, "insufficient_scope", scope="billing-api:invoices:read")
    assert str(info.value) == (
        "expected svcauth's refusal for code 'insufficient_scope'; differences:\n"
        "  - WWW-Authenticate scope: expected 'billing-api:invoices:read', found "
        f"'{ROLE}' (in 'Bearer realm=\"billing\", error=\"insufficient_scope\", "
        "error_description=\"The access token lacks a required role or scope\", "
        f"scope=\"{ROLE}\"')")


def test_fails_on_another_401_naming_body_and_description(app: TestClient,
                                                          factory: TokenFactory) -> None:
    response = app.get("/invoices", headers=factory.headers("invoicing-job", expired=True))
    with pytest.raises(AssertionError) as info:
        assert_refused(response, 401, "signature_invalid")
    assert str(info.value) == (
        "expected svcauth's refusal for code 'signature_invalid'; differences:\n"
        "  - body: expected {'error': 'Invalid token'}, found {'error': 'Token expired'}\n"
        "  - WWW-Authenticate error_description: expected 'The access token signature is "
        "invalid', found 'The access token expired' (in 'Bearer realm=\"billing\", "
        "error=\"invalid_token\", error_description=\"The access token expired\"')")


def test_fails_on_an_allowed_request(app: TestClient, factory: TokenFactory) -> None:
    factory_ok = factory.headers("invoicing-job", claims={
        "resource_access": {"billing-api": {"roles": ["invoices:write"]}}})
    response = app.get("/invoices", headers=factory_ok)
    assert response.status_code == 200
    with pytest.raises(AssertionError) as info:
        assert_refused(response, 401, "token_expired")
    assert str(info.value) == (
        "expected svcauth's refusal for code 'token_expired'; differences:\n"
        "  - status: expected 401, found 200\n"
        "  - body: expected a JSON object {\"error\": ...}, found {'ok': 'yes'}\n"
        "  - WWW-Authenticate: expected 'Bearer realm=\"svcauth\", error=\"invalid_token\", "
        "error_description=\"The access token expired\"', found none\n"
        "  - Cache-Control: expected 'no-store', found None")


def test_fails_on_a_wrong_realm_and_a_403_for_a_401(app: TestClient,
                                                    factory: TokenFactory) -> None:
    response = app.get("/invoices", headers=factory.headers("reporting-service"))
    with pytest.raises(AssertionError) as info:
        assert_refused(response, 401, "token_expired", realm="shop")
    message = str(info.value)
    assert message.startswith("expected svcauth's refusal for code 'token_expired'; "
                              "differences:\n  - status: expected 401, found 403\n")
    assert "  - WWW-Authenticate realm: expected 'shop', found 'billing'" in message
    assert "  - WWW-Authenticate error: expected 'invalid_token', found 'insufficient_scope'" in message


def test_fails_on_a_forbidden_answer_that_carries_a_challenge() -> None:
    response = httpx.Response(
        403, json={"error": "Unauthorized service"},
        headers={"WWW-Authenticate": 'Bearer realm="billing"', "Cache-Control": "no-store"})
    with pytest.raises(AssertionError) as info:
        assert_refused(response, 403, "unauthorized_service")
    assert str(info.value) == (
        "expected svcauth's refusal for code 'unauthorized_service'; differences:\n"
        "  - WWW-Authenticate: expected none (no other token would help), found "
        "'Bearer realm=\"billing\"'")


def test_fails_on_a_503_without_retry_after() -> None:
    response = httpx.Response(503, json={"error": "Authentication temporarily unavailable"},
                              headers={"Cache-Control": "no-store"})
    with pytest.raises(AssertionError, match="Retry-After: expected a number of seconds, "
                                             "found none"):
        assert_refused(response, 503, "jwks_unavailable")


def test_fails_on_a_body_code_that_differs() -> None:
    response = httpx.Response(401, json={"error": "No token provided", "code": "scheme_unsupported"},
                              headers={"WWW-Authenticate": 'Bearer realm="x"',
                                       "Cache-Control": "no-store"})
    assert_refused(response, 401, "scheme_unsupported")
    with pytest.raises(AssertionError) as info:
        assert_refused(response, 401, "token_missing")
    assert "body: expected {'error': 'No token provided', 'code': 'token_missing'}, found " \
           "{'error': 'No token provided', 'code': 'scheme_unsupported'}" in str(info.value)


def test_fails_on_a_body_that_is_not_json() -> None:
    response = httpx.Response(401, text="<html>nope</html>",
                              headers={"WWW-Authenticate": 'Bearer realm="x"',
                                       "Cache-Control": "no-store"})
    with pytest.raises(AssertionError) as info:
        assert_refused(response, 401)
    assert str(info.value) == (
        "expected svcauth's refusal for status 401; differences:\n"
        "  - body: expected a JSON object {\"error\": ...}, found <no JSON body: "
        "JSONDecodeError reading the body as JSON>")


def test_status_only_needs_a_bearer_challenge_on_401() -> None:
    response = httpx.Response(401, json={"error": "Invalid token"},
                              headers={"WWW-Authenticate": 'Basic realm="x"',
                                       "Cache-Control": "no-store"})
    with pytest.raises(AssertionError, match="expected a Bearer challenge on 401, found "
                                             "'Basic realm=\"x\"'"):
        assert_refused(response, 401)


def test_misuse_is_a_type_or_value_error(app: TestClient) -> None:
    response = app.get("/invoices")
    with pytest.raises(ValueError, match="code 'token_expired' is answered with 401, not 403"):
        assert_refused(response, 403, "token_expired")
    with pytest.raises(TypeError, match="expected a status, a code or both"):
        assert_refused(response)
    with pytest.raises(TypeError, match="expected a response with status_code or status"):
        assert_refused(object(), 401)


# -- duck typing: requests, aiohttp-like and Django-like responses -----------------------

def _refusal_parts(code: str) -> tuple[int, dict[str, str], dict[str, str]]:
    refusal = expected_refusal(code, realm="billing")
    return refusal.status, dict(refusal.headers), dict(refusal.body)


def test_works_with_a_requests_response() -> None:
    status, headers, body = _refusal_parts("token_expired")
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = json.dumps(body).encode()
    assert_refused(response, 401, "token_expired", realm="billing")


class _AiohttpLike:
    def __init__(self, status: int, headers: dict[str, str], body: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        self._body = body

    async def json(self) -> dict[str, str]:
        return self._body


def test_works_with_an_aiohttp_like_response_given_its_body() -> None:
    status, headers, body = _refusal_parts("insufficient_scope")
    response = _AiohttpLike(status, headers, body)
    assert_refused(response, 403, "insufficient_scope", body=body)
    with pytest.raises(TypeError, match=r"pass body=await response.json\(\)"):
        assert_refused(response, 403, "insufficient_scope")


class _DjangoLike:
    """Django's test-client response: status_code, headers (HttpHeaders), json()."""

    def __init__(self, status: int, headers: dict[str, str], body: dict[str, str]) -> None:
        self.status_code = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self._body = body

    def json(self) -> dict[str, str]:
        return self._body


def test_works_with_a_django_like_response() -> None:
    status, headers, body = _refusal_parts("not_service_account")
    assert_refused(_DjangoLike(status, headers, body), 403, "not_service_account")
    with pytest.raises(AssertionError, match="status: expected 401, found 403"):
        assert_refused(_DjangoLike(status, headers, body), 401, "token_missing")


def test_works_with_flasks_test_client(factory: TokenFactory) -> None:
    from flask import Flask, g

    from svcauth.flask import require_service

    verifier = Verifier(issuer=factory.issuer, audience="billing-api", clock=lambda: NOW,
                        key_set=factory.static_key_set)
    guard = Guard(verifier, ServicePolicy(required_roles={ROLE}), realm="billing")
    app = Flask("svcauth-testing")

    @app.get("/invoices")
    @require_service(guard)
    def invoices() -> dict[str, str]:
        return {"caller": g.identity.client_id}

    client = app.test_client()
    assert client.get("/invoices", headers=factory.headers("invoicing-job")).json == {
        "caller": "invoicing-job"}
    expired = client.get("/invoices", headers=factory.headers("invoicing-job", expired=True))
    assert_refused(expired, 401, "token_expired", realm="billing")
    reader = client.get("/invoices", headers=factory.headers("reporting-service"))
    assert_refused(reader, 403, "insufficient_scope", realm="billing", scope=ROLE)
    with pytest.raises(AssertionError, match=r"body: expected \{'error': 'No token provided'\}, "
                                             r"found \{'error': 'Token expired'\}"):
        assert_refused(expired, 401, "token_missing")


class _RawPairs:
    """A response whose headers are raw (bytes, bytes) pairs, as in an ASGI message."""

    def __init__(self, status: int, headers: dict[str, str], body: dict[str, str]) -> None:
        self.status_code = status
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._body = body

    def json(self) -> dict[str, str]:
        return self._body


def test_works_with_raw_header_pairs() -> None:
    status, headers, body = _refusal_parts("token_expired")
    assert_refused(_RawPairs(status, headers, body), 401, "token_expired", realm="billing")
    with pytest.raises(AssertionError, match="WWW-Authenticate realm: expected 'shop', found "
                                             "'billing'"):
        assert_refused(_RawPairs(status, headers, body), 401, "token_expired", realm="shop")
