"""The scope-level helpers the integrations use instead of framework objects."""

from __future__ import annotations

import pytest

from svcauth.receiver._bearer import authorization_values, has_query_token


@pytest.mark.parametrize(("query", "expected"), [
    (b"", False),
    (b"a=1&b=2", False),
    (b"access_token=x", True),
    (b"a=1&access_token=", True),
    (b"access%5Ftoken=x", True),         # decoded as Starlette's QueryParams decodes it
    (b"access%5ftoken=x", True),
    (b"xaccess_token=1", False),
    (b"q=access_token", False),          # a value, not a parameter name
    (b"percent=%41", False),
])
def test_has_query_token_matches_decoded_parameter_names(query: bytes, expected: bool) -> None:
    assert has_query_token(query) is expected


def test_authorization_values_are_every_authorization_header_case_insensitively() -> None:
    headers = [(b"host", b"x"), (b"authorization", b"Bearer a"), (b"Authorization", b"Bearer b"),
               (b"x-authorization", b"no")]
    assert list(authorization_values(headers)) == ["Bearer a", "Bearer b"]
