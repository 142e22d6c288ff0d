"""Client assertions split and decoded as Keycloak's JWSInput does, with the messages of
java.util.Base64's URL decoder (observed on Keycloak 26.7.3, see test_kc_conformance)."""

from __future__ import annotations

import pytest

from svcauth.devidp._jwsinput import (
    JSON_FAILURE,
    MalformedAssertion,
    java_base64url_error,
    parse_assertion,
)

SHORT = "Input byte[] should at least have 2 bytes for base64 bytes"
LAST_UNIT = "Last unit does not have enough valid bits"

# text -> java.util.Base64.getUrlDecoder().decode's message (None: decodes)
BASE64_CASES = [
    ("", None),
    ("a", SHORT),
    ("ab", None),
    ("abc", None),
    ("abcd", None),
    ("abcde", LAST_UNIT),
    ("ab*d", "Illegal base64 character 2a"),
    ("ab+d", "Illegal base64 character 2b"),      # the standard alphabet is not URL-safe
    ("ab/d", "Illegal base64 character 2f"),
    ("abé", "Illegal base64 character -3d"),      # signed Java byte of UTF-8 0xc3
    ("ab==", None),
    ("abc=", None),
    ("ab=", "Input byte array has wrong 4-byte ending unit"),
    ("abcd=", "Input byte array has wrong 4-byte ending unit"),
    ("abcde=", LAST_UNIT),
    ("ab==x", "Input byte array has incorrect ending byte at 4"),
]


@pytest.mark.parametrize(("text", "expected"), BASE64_CASES,
                         ids=[repr(t) for t, _ in BASE64_CASES])
def test_base64url_errors_carry_java_messages(text: str, expected: str | None) -> None:
    assert java_base64url_error(text) == expected


IAE = "java.lang.IllegalArgumentException: "
# assertion -> message, in JWSInput's order: split, payload, signature, header, JSON
PARSE_CASES = [
    ("abc", IAE + "Parsing error"),
    ("abc.", IAE + "Parsing error"),                # trailing empty part dropped
    ("a.b.c.d", IAE + "Parsing error"),
    ("not.a.jwt", IAE + SHORT),                     # payload decoded first
    ("x.abcd.y", IAE + SHORT),                      # then the signature
    ("x.abcd.abcd", IAE + SHORT),                   # then the header
    ("abcd.abcde.abcd", IAE + LAST_UNIT),
    ("abcd.e30.abcd", JSON_FAILURE),                # header bytes are not JSON
    ("e30.abcd.abcd", JSON_FAILURE),                # payload bytes are not JSON
    ("W10.e30.", JSON_FAILURE),                     # header a JSON array
]


@pytest.mark.parametrize(("assertion", "expected"), PARSE_CASES,
                         ids=[a for a, _ in PARSE_CASES])
def test_malformed_assertion_message(assertion: str, expected: str) -> None:
    with pytest.raises(MalformedAssertion) as info:
        parse_assertion(assertion)
    assert str(info.value) == expected


def test_two_part_assertion_parses_with_empty_signature() -> None:
    parsed = parse_assertion("e30.eyJzdWIiOiJ4In0")
    assert (parsed.header, parsed.claims, parsed.signature) == ({}, {"sub": "x"}, b"")
    assert parsed.signing_input == b"e30.eyJzdWIiOiJ4In0"
