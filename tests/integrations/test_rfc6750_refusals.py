"""The RFC 6750 answer to every refusal: status, body and headers, exactly."""

from __future__ import annotations

import json

import pytest

from svcauth import (
    AuthError,
    ConfigurationError,
    DiscoveryError,
    ForbiddenError,
    InvalidRequestError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingTokenError,
    SvcAuthError,
)
from svcauth.receiver._rfc6750 import quote_header_value, refusal_for

R = 'Bearer realm="svcauth"'

CASES = [
    # (name, error, status, body, WWW-Authenticate or None)
    ("missing", MissingTokenError("x"), 401, "No token provided", R),
    ("other_scheme", MissingTokenError("x", code="scheme_unsupported"), 401, "No token provided", R),
    ("repeated_headers", InvalidRequestError("x", code="authorization_repeated"), 400,
     "Invalid request",
     R + ', error="invalid_request", error_description="Several Authorization headers were sent"'),
    ("malformed_header", InvalidRequestError("x", code="authorization_malformed"), 400,
     "Invalid request",
     R + ', error="invalid_request", error_description="The Authorization header is malformed"'),
    ("expired", InvalidTokenError("x", code="token_expired"), 401, "Token expired",
     R + ', error="invalid_token", error_description="The access token expired"'),
    ("bad_signature", InvalidTokenError("x", code="signature_invalid"), 401, "Invalid token",
     R + ', error="invalid_token", error_description="The access token signature is invalid"'),
    ("wrong_audience", InvalidTokenError("x", code="audience_mismatch"), 401, "Invalid token",
     R + ', error="invalid_token", error_description="The access token is meant for another audience"'),
    ("revoked_introspected", InvalidTokenError("x", code="token_inactive"), 401, "Invalid token",
     R + ', error="invalid_token", error_description="The access token is no longer active"'),
    ("unprocessable", InvalidTokenError("x", code="token_unprocessable"), 401, "Invalid token",
     R + ', error="invalid_token", error_description="The access token is invalid"'),
    ("unknown_code", InvalidTokenError("x", code="something_new"), 401, "Invalid token",
     R + ', error="invalid_token", error_description="The access token is invalid"'),
    ("bare_auth_error", AuthError("x"), 401, "Invalid token",
     R + ', error="invalid_token", error_description="The access token is invalid"'),
    ("not_service_account", ForbiddenError("x", code="not_service_account"), 403,
     "This endpoint only accepts service account tokens", None),
    ("unauthorized_service", ForbiddenError("x", code="unauthorized_service"), 403,
     "Unauthorized service", None),
    ("insufficient_scope", ForbiddenError(
        "x", code="insufficient_scope", required=("notification-service:notifications:send",)),
     403, "Insufficient scope",
     R + ', error="insufficient_scope", error_description="The access token lacks a required '
     'role or scope", scope="notification-service:notifications:send"'),
    ("insufficient_scope_two", ForbiddenError("x", code="insufficient_scope", required=("a", "b")),
     403, "Insufficient scope",
     R + ', error="insufficient_scope", error_description="The access token lacks a required '
     'role or scope", scope="a b"'),
    ("insufficient_scope_none_named", ForbiddenError("x", code="insufficient_scope"), 403,
     "Insufficient scope",
     R + ', error="insufficient_scope", error_description="The access token lacks a required '
     'role or scope"'),
    ("not_user_token", ForbiddenError("x", code="not_user_token"), 403,
     "This endpoint only accepts user tokens", None),
    ("unauthorized_client", ForbiddenError("x", code="unauthorized_client"), 403,
     "Unauthorized client", None),
    ("other_forbidden", ForbiddenError("x", code="something_else"), 403, "Forbidden", None),
]


@pytest.mark.parametrize(("name", "error", "status", "message", "challenge"), CASES,
                         ids=[c[0] for c in CASES])
def test_refusal_status_body_and_challenge(
    name: str, error: SvcAuthError, status: int, message: str, challenge: str | None
) -> None:
    refusal = refusal_for(error)
    assert refusal.status == status
    assert dict(refusal.body) == {"error": message}
    assert json.loads(refusal.body_bytes) == {"error": message}
    assert refusal.header("www-authenticate") == challenge
    assert refusal.header("Content-Type") == "application/json"
    assert refusal.header("Cache-Control") == "no-store"
    assert refusal.header("Retry-After") is None
    assert refusal.code == error.code


@pytest.mark.parametrize("error", [
    KeySetUnavailableError("jwks down"),
    KeySetUnavailableError("introspection down", code="introspection_unavailable"),
    DiscoveryError("discovery down"),
    ConfigurationError("bad"),
], ids=["jwks_unavailable", "introspection_unavailable", "discovery_failed", "config_invalid"])
def test_receiver_side_outages_answer_503_with_retry_after(error: SvcAuthError) -> None:
    refusal = refusal_for(error)
    assert refusal.status == 503
    assert dict(refusal.body) == {"error": "Authentication temporarily unavailable"}
    assert refusal.header("Retry-After") == "30"
    assert refusal.header("WWW-Authenticate") is None
    assert refusal_for(error, retry_after=5).header("Retry-After") == "5"


def test_include_code_adds_the_stable_code_to_the_body() -> None:
    refusal = refusal_for(InvalidTokenError("x", code="token_expired"), include_code=True)
    assert json.loads(refusal.body_bytes) == {"error": "Token expired", "code": "token_expired"}


def test_error_description_never_echoes_the_exception_message() -> None:
    secret = "eyJhbGciOi.leaked.c2VjcmV0"
    refusal = refusal_for(InvalidTokenError(f"bad token {secret}", code="signature_invalid"))
    assert all(secret not in v for _, v in refusal.headers)
    assert secret not in refusal.body_bytes.decode()


@pytest.mark.parametrize(("value", "quoted"), [
    ("svcauth", '"svcauth"'),
    ('my "realm"', '"my \\"realm\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("line\r\nSet-Cookie: a=b", '"lineSet-Cookie: a=b"'),
    ("tab\there\x00\x7f", '"tabhere"'),
    ("caf\u00e9 \u2603", '"caf "'),
    ("", '""'),
])
def test_header_values_are_rfc7230_quoted_strings(value: str, quoted: str) -> None:
    assert quote_header_value(value) == quoted


def test_realm_with_quotes_and_control_characters_cannot_break_the_header() -> None:
    refusal = refusal_for(MissingTokenError("x"), realm='a"\r\nb\\')
    assert refusal.header("WWW-Authenticate") == 'Bearer realm="a\\"b\\\\"'


def test_scope_tokens_drop_characters_rfc6750_forbids() -> None:
    error = ForbiddenError("x", code="insufficient_scope", required=('ro"le', "sp ace", "\u00e9", "ok"))
    challenge = refusal_for(error).header("WWW-Authenticate")
    assert challenge is not None
    assert challenge.endswith(', scope="role space ok"')
