"""Splitting and decoding a client assertion as Keycloak's ``JWSInput`` does, with the
messages of the Java exceptions it reports in ``error_description``.

Keycloak 26.7.3 answers a malformed assertion with ``Client authentication with signed
JWT failed: <Java exception>``: ``String.split("\\.")`` (trailing empty parts dropped),
then the payload, the signature and the header decoded with ``java.util.Base64``'s URL
decoder, then the header parsed as JSON (Jackson). The Base64 and split messages are
reproduced here; Jackson's JSON messages are not (see docs/devidp.md).
"""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass, field
from typing import Any

_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
_IAE = "java.lang.IllegalArgumentException: "
JSON_FAILURE = "com.fasterxml.jackson.core.JsonParseException: not a JSON object"
"""Stand-in for Jackson's message on a part that is not a JSON object (it names bytes and
columns; not reproduced)."""


class MalformedAssertion(ValueError):
    """The assertion cannot be parsed; ``str()`` is Keycloak's exception text."""


@dataclass(frozen=True)
class ParsedAssertion:
    """A split and decoded client assertion (not yet verified)."""

    header: dict[str, Any]
    """The JOSE header."""
    claims: dict[str, Any] = field(repr=False)
    """The claims."""
    signing_input: bytes = field(repr=False)
    """``header.payload`` as signed."""
    signature: bytes = field(repr=False)
    """The decoded signature (empty for two parts)."""


def java_base64url_error(text: str) -> str | None:
    """The message ``java.util.Base64.getUrlDecoder().decode`` throws for ``text``, or None."""
    if not text:
        return None
    if len(text) < 2:
        return "Input byte[] should at least have 2 bytes for base64 bytes"
    raw = text.encode("utf-8")
    count = 0  # characters read of the current 4-character unit
    pos = 0
    while pos < len(raw):
        ch = chr(raw[pos]) if raw[pos] < 0x80 else ""
        pos += 1
        if ch in _ALPHABET and ch:
            count = (count + 1) % 4
            continue
        if ch == "=":
            if count == 0 or (count == 2 and (pos == len(raw) or raw[pos:pos + 1] != b"=")):
                return "Input byte array has wrong 4-byte ending unit"
            if count == 2:
                pos += 1
            if count == 1:
                return "Last unit does not have enough valid bits"
            if pos < len(raw):
                return f"Input byte array has incorrect ending byte at {pos}"
            return None
        signed = raw[pos - 1] - 256 if raw[pos - 1] >= 0x80 else raw[pos - 1]
        return f"Illegal base64 character {_java_hex(signed)}"
    if count == 1:
        return "Last unit does not have enough valid bits"
    return None


def _java_hex(value: int) -> str:
    return f"-{-value:x}" if value < 0 else f"{value:x}"


def _decode(part: str) -> bytes:
    error = java_base64url_error(part)
    if error is not None:
        raise MalformedAssertion(_IAE + error)
    # Java ignores non-zero trailing bits; so does the non-strict stdlib decoder.
    bare = part.rstrip("=")
    return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise MalformedAssertion(JSON_FAILURE) from exc
    if not isinstance(value, dict):
        raise MalformedAssertion(JSON_FAILURE)
    return value


def parse_assertion(assertion: str) -> ParsedAssertion:
    """Split and decode in ``JWSInput``'s order; raise :class:`MalformedAssertion`."""
    parts = assertion.split(".")
    while parts and not parts[-1]:  # Java's split drops trailing empty strings
        parts.pop()
    if len(parts) < 2 or len(parts) > 3:
        raise MalformedAssertion(_IAE + "Parsing error")
    payload = _decode(parts[1])
    signature = _decode(parts[2]) if len(parts) > 2 else b""
    header = _json_object(_decode(parts[0]))
    claims = _json_object(payload)
    return ParsedAssertion(header=header, claims=claims,
                           signing_input=f"{parts[0]}.{parts[1]}".encode("ascii", "replace"),
                           signature=signature)
