"""Authorization header parsing: one row per input, each with the exact outcome (RFC 6750 §2.1, §3.1)."""

from __future__ import annotations

import pytest

from svcauth import InvalidRequestError, MissingTokenError
from svcauth.receiver._bearer import parse_authorization

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

ACCEPTED = [
    ("canonical", f"Bearer {TOKEN}", TOKEN),
    ("lower_case_scheme", f"bearer {TOKEN}", TOKEN),
    ("upper_case_scheme", f"BEARER {TOKEN}", TOKEN),
    ("mixed_case_scheme", f"bEaReR {TOKEN}", TOKEN),
    ("several_spaces", f"Bearer    {TOKEN}", TOKEN),
    ("surrounding_ows_stripped", f" \tBearer {TOKEN} \t", TOKEN),
    ("list_of_one", [f"Bearer {TOKEN}"], TOKEN),
    ("tuple_of_one", (f"Bearer {TOKEN}",), TOKEN),
    ("b64token_all_chars", "Bearer aZ09-._~+/==", "aZ09-._~+/=="),
]

REFUSED = [
    # (name, header value(s), query_token, error type, code)
    ("absent", None, False, MissingTokenError, "token_missing"),
    ("empty_list", [], False, MissingTokenError, "token_missing"),
    ("empty_string", "", False, MissingTokenError, "token_missing"),
    ("only_whitespace", "  \t ", False, MissingTokenError, "token_missing"),
    ("query_token_only", None, True, MissingTokenError, "token_missing"),
    ("basic_scheme", "Basic dXNlcjpwYXNz", False, MissingTokenError, "scheme_unsupported"),
    ("dpop_scheme", f"DPoP {TOKEN}", False, MissingTokenError, "scheme_unsupported"),
    ("bearer_prefix_word", f"Bearerx {TOKEN}", False, MissingTokenError, "scheme_unsupported"),
    ("token_scheme", f"Token {TOKEN}", False, MissingTokenError, "scheme_unsupported"),
    ("bare_token_no_scheme", TOKEN, False, MissingTokenError, "scheme_unsupported"),
    ("repeated_headers", [f"Bearer {TOKEN}", f"Bearer {TOKEN}"], False, InvalidRequestError,
     "authorization_repeated"),
    ("repeated_headers_other_scheme", [f"Bearer {TOKEN}", "Basic eDp5"], False,
     InvalidRequestError, "authorization_repeated"),
    ("repeated_empty_headers", ["", ""], False, InvalidRequestError, "authorization_repeated"),
    ("comma_joined_repeat", f"Bearer {TOKEN}, Bearer {TOKEN}", False, InvalidRequestError,
     "authorization_malformed"),
    ("scheme_without_token", "Bearer", False, InvalidRequestError, "authorization_malformed"),
    ("scheme_and_spaces", "Bearer    ", False, InvalidRequestError, "authorization_malformed"),
    ("tab_separator", f"Bearer\t{TOKEN}", False, InvalidRequestError, "authorization_malformed"),
    ("two_tokens", f"Bearer {TOKEN} {TOKEN}", False, InvalidRequestError, "authorization_malformed"),
    ("inner_newline", f"Bearer {TOKEN}\nX-Evil: 1", False, InvalidRequestError,
     "authorization_malformed"),
    ("crlf_injection", f"Bearer {TOKEN}\r\nSet-Cookie: a=b", False, InvalidRequestError,
     "authorization_malformed"),
    ("nul_byte", f"Bearer {TOKEN}\x00", False, InvalidRequestError, "authorization_malformed"),
    ("quoted_token", f'Bearer "{TOKEN}"', False, InvalidRequestError, "authorization_malformed"),
    ("auth_param_form", 'Bearer token="abc"', False, InvalidRequestError, "authorization_malformed"),
    ("equals_inside", "Bearer ab=cd", False, InvalidRequestError, "authorization_malformed"),
    ("non_ascii_token", "Bearer t\u00f6ken", False, InvalidRequestError, "authorization_malformed"),
    ("latin1_decoded_utf8", "Bearer t\u00c3\u00b6ken", False, InvalidRequestError,
     "authorization_malformed"),
    ("only_padding", "Bearer ===", False, InvalidRequestError, "authorization_malformed"),
    ("leading_comma", f", Bearer {TOKEN}", False, InvalidRequestError, "authorization_malformed"),
    ("header_and_query_token", f"Bearer {TOKEN}", True, InvalidRequestError,
     "credentials_multiple"),
    ("other_scheme_and_query_token", "Basic dXNlcjpwYXNz", True, InvalidRequestError,
     "credentials_multiple"),
]


@pytest.mark.parametrize(("name", "value", "expected"), ACCEPTED, ids=[r[0] for r in ACCEPTED])
def test_bearer_token_is_extracted(name: str, value: object, expected: str) -> None:
    assert parse_authorization(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "query_token", "error", "code"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_unusable_authorization_is_refused_with_exact_code(
    name: str, value: object, query_token: bool, error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as info:
        parse_authorization(value, query_token=query_token)  # type: ignore[arg-type]
    assert type(info.value) is error
    assert info.value.code == code  # type: ignore[attr-defined]


def test_refusal_messages_never_quote_the_header_value() -> None:
    secret = "eyJzZWNyZXQiOiJ2YWx1ZSJ9.payload.c2lnbmF0dXJlX3NlY3JldA"
    for value in (f"Bearer {secret} extra", f"Basic{secret}", [secret, secret], f"Bearer\t{secret}"):
        with pytest.raises((MissingTokenError, InvalidRequestError)) as info:
            parse_authorization(value)
        text = str(info.value) + repr(info.value)
        assert secret not in text
        assert secret[-6:] not in text
