"""Pure core: building the token request, parsing the answer, Retry-After, redaction."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote_plus

import pytest

from svcauth import TokenEndpointError
from svcauth.caller import (
    ClientSecretBasic,
    ClientSecretPost,
    Token,
    build_token_request,
    parse_token_response,
    redact,
)
from svcauth.caller._token_endpoint import parse_retry_after

URL = "https://idp.test/token"


def test_basic_auth_form_urlencodes_id_and_secret_before_base64() -> None:
    req = build_token_request(token_endpoint=URL, client_id="svc:a b", auth=ClientSecretBasic("p@ss:w+rd/é"))
    scheme, _, value = req.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    raw = base64.b64decode(value).decode()
    assert raw == "svc%3Aa+b:p%40ss%3Aw%2Brd%2F%C3%A9"
    cid, _, secret = raw.partition(":")
    assert (unquote_plus(cid), unquote_plus(secret)) == ("svc:a b", "p@ss:w+rd/é")
    assert dict(req.form) == {"grant_type": "client_credentials"}


def test_post_auth_puts_credentials_in_the_form_and_no_authorization_header() -> None:
    req = build_token_request(token_endpoint=URL, client_id="shop-api", auth=ClientSecretPost("x1"),
                              scope=("a", "b"), audience="inventory", resource=("https://r1", "https://r2"))
    assert "Authorization" not in req.headers
    assert list(req.form) == [
        ("grant_type", "client_credentials"), ("scope", "a b"), ("audience", "inventory"),
        ("resource", "https://r1"), ("resource", "https://r2"),
        ("client_id", "shop-api"), ("client_secret", "x1"),
    ]
    assert "x1" not in repr(req)


def _ok(**doc: object) -> bytes:
    return json.dumps({"access_token": "eyJabc.def.ghi-123456", "token_type": "bearer", **doc}).encode()


def test_success_parses_into_token_on_the_injected_clock() -> None:
    token = parse_token_response(200, {}, _ok(expires_in=300, scope="profile"), issued_at=50.0, wall_now=0)
    assert token == Token("eyJabc.def.ghi-123456", "Bearer", 300.0, 350.0, "profile", 50.0)
    assert repr(token).count("123456") == 1 and "eyJabc.def" not in repr(token)


def test_string_expires_in_is_accepted_and_missing_means_sixty_seconds() -> None:
    assert parse_token_response(200, {}, _ok(expires_in="120"), issued_at=0, wall_now=0).expires_at == 120
    missing = parse_token_response(200, {}, _ok(), issued_at=10, wall_now=0)
    assert (missing.expires_in, missing.expires_at) == (None, 70)


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "code", "permanent", "retry_after"),
    [
        ("invalid_client", 401, {}, b'{"error":"invalid_client","error_description":"bad"}',
         "invalid_client", True, None),
        ("invalid_scope", 400, {}, b'{"error":"invalid_scope"}', "invalid_scope", True, None),
        ("server error html", 502, {}, b"<html>bad gateway</html>", "http_502", False, None),
        ("503 with error", 503, {}, b'{"error":"temporarily_unavailable"}', "temporarily_unavailable",
         False, None),
        ("429 seconds", 429, {"Retry-After": "7"}, b"", "http_429", False, 7.0),
        ("429 http date", 429, {"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}, b"", "http_429",
         False, 20.0),
        ("200 not json", 200, {}, b"nope", "token_response_invalid", False, None),
        ("200 wrong type", 200, {}, b'{"access_token":"eyJsecret-token","token_type":"DPoP"}',
         "token_response_invalid", False, None),
        ("200 no token", 200, {}, b'{"token_type":"Bearer"}', "token_response_invalid", False, None),
    ],
)
def test_error_answers_raise_token_endpoint_error_with_rfc6749_fields(
    name: str, status: int, headers: dict[str, str], body: bytes, code: str, permanent: bool,
    retry_after: float | None,
) -> None:
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(status, headers, body, issued_at=0, wall_now=1_700_000_000.0)
    exc = info.value
    assert (exc.code, exc.status, exc.permanent, exc.retry_after) == (code, status, permanent, retry_after)
    assert "eyJsecret-token" not in str(exc) + repr(exc) + exc.body


def test_error_body_is_capped() -> None:
    with pytest.raises(TokenEndpointError) as info:
        parse_token_response(500, {}, b"x" * 100_000, issued_at=0, wall_now=0)
    assert len(info.value.body) == 1024


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("3", 3.0), ("soon", None),
    ("Tue, 14 Nov 2023 22:13:20 GMT", 0.0), ("Tue, 14 Nov 2023 22:15:00 GMT", 100.0),
])
def test_retry_after_is_seconds_or_http_date(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, wall_now=1_700_000_000.0) == expected


@pytest.mark.parametrize(("token", "shown"), [
    ("eyJhbGciOiJSUzI1NiJ9.payload.signature-XYZ123", "eyJ...XYZ123"), ("short", "eyJ..."),
])
def test_redact_shows_at_most_the_last_six_characters(token: str, shown: str) -> None:
    assert redact(token) == shown
