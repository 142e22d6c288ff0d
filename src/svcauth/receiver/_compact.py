"""Pure compact-JWS parsing and claim checks: no I/O, no clock, no keys.

Every refusal is an ``InvalidTokenError`` with a stable ``code``. Messages say what was
expected and what was found, but never echo token bytes: a found value is named only when it
is one of a fixed set of well-known names (``alg`` names, Keycloak token types) or the
``iss``/``azp``, cut to 100 characters.

JSON is parsed strictly: UTF-8 only (no BOM, no UTF-16 detection), objects only, duplicate
member names refused, ``NaN``/``Infinity`` refused, nesting bounded by Python's recursion
limit (a ``RecursionError`` becomes ``token_malformed``).
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .._errors import InvalidTokenError
from .._jws import b64url_decode_bytes

# Time claims beyond the year 9999 are absurd; they are refused rather than trusted forever.
MAX_TIMESTAMP = 253_402_300_799
# RFC 7515 §4.1.9 / RFC 8725 §3.11: ``typ`` is a media type, compared case-insensitively, and
# "application/" may be left out. Keycloak sends "JWT"; RFC 9068 tokens "at+jwt".
HEADER_TYPES = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
_KNOWN_ALGS = frozenset({
    "none", "None", "NONE", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
    "PS384", "PS512", "ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "Ed448",
    "RSA-OAEP", "RSA-OAEP-256", "dir",
})
KNOWN_TOKEN_TYPES = frozenset({"Bearer", "ID", "Refresh", "Offline", "Logout", "DPoP"})


def invalid(code: str, message: str) -> InvalidTokenError:
    """An ``InvalidTokenError`` with ``code``."""
    return InvalidTokenError(message, code=code)


def shown(value: object) -> str:
    """``repr`` of an issuer or client id, cut to 100 characters, for messages."""
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def named(value: object, known: frozenset[str]) -> str:
    """``repr(value)`` when it is a well-known name, otherwise only its JSON type."""
    if type(value) is str and value in known:
        return repr(value)
    return f"another {type(value).__name__}" if value is not None else "none"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_DECODE = _DECODER.decode


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """Strict JSON object from UTF-8 bytes; ``token_malformed`` otherwise."""
    try:
        text = raw.decode("utf-8")
        try:
            obj, end = _SCAN(text, 0)
            if end != len(text):
                raise StopIteration
        except StopIteration:
            # Leading or trailing whitespace (rare): let the full decoder judge the text.
            obj = _DECODE(text)
    except (ValueError, RecursionError, StopIteration) as exc:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors.
        raise invalid("token_malformed", f"{what}: expected a UTF-8 JSON object, found "
                      f"{type(exc).__name__}") from None
    if type(obj) is not dict:
        raise invalid("token_malformed", f"{what}: expected a JSON object, found "
                      f"{type(obj).__name__}")
    return obj


def segment(raw: bytes, what: str) -> bytes:
    """Decode one canonical base64url segment; ``token_malformed`` otherwise."""
    try:
        return b64url_decode_bytes(raw)
    except (binascii.Error, ValueError):
        raise invalid("token_malformed", f"{what}: expected canonical base64url "
                      "(no padding, no other characters, zero trailing bits)") from None


class HeaderInfo:
    """A validated JOSE header: the parts the verifier needs."""

    __slots__ = ("alg", "header", "kid")

    def __init__(self, header: Mapping[str, Any], alg: str, kid: str | None) -> None:
        self.header = header
        self.alg = alg
        self.kid = kid


def parse_header(raw: bytes, algorithms: frozenset[str]) -> HeaderInfo:
    """Decode and validate the header segment, in the documented order:

    JSON object → ``alg`` a string in ``algorithms`` → no ``crit`` → ``b64`` absent or true
    → ``typ`` absent or JWT/at+jwt (case-insensitive, RFC 7515 §4.1.9) → ``kid`` absent or a
    string (``null`` counts as present and is refused). ``jku``, ``x5u``, ``x5c``
    and ``jwk`` are ignored: keys come only from the configured key set.
    """
    header = json_object(segment(raw, "header"), "header")
    alg = header.get("alg")
    if type(alg) is not str:
        raise invalid("header_invalid", f"header alg: expected a string, found "
                      f"{named(alg, _KNOWN_ALGS)}")
    if alg not in algorithms:
        raise invalid("alg_not_allowed", f"header alg: expected one of {sorted(algorithms)}, "
                      f"found {named(alg, _KNOWN_ALGS)}")
    if "crit" in header:
        raise invalid("crit_unsupported", "header crit: no critical extension is understood, "
                      "found a crit member")
    if "b64" in header and header["b64"] is not True:
        raise invalid("header_invalid", "header b64: expected absent or true (RFC 7797 "
                      "unencoded payloads are not accepted)")
    # Present-but-null is not "absent": ``"typ": null`` and ``"kid": null`` are refused.
    if "typ" in header:
        typ = header["typ"]
        if type(typ) is not str or typ.lower() not in HEADER_TYPES:
            raise invalid("header_invalid", "header typ: expected 'JWT' or 'at+jwt', found "
                          f"{named(typ, frozenset())}")
    kid = header.get("kid")
    if "kid" in header and type(kid) is not str:
        raise invalid("header_invalid", f"header kid: expected a string, found "
                      f"{type(kid).__name__}")
    return HeaderInfo(MappingProxyType(header), alg, kid)


def number(payload: dict[str, Any], name: str) -> float | None:
    """A time claim as a finite number in range, ``None`` when absent; ``claim_invalid``
    for strings, booleans, null, lists, non-finite or absurd values."""
    value: Any = payload.get(name)
    if value is None and name not in payload:
        return None
    kind = type(value)
    if (kind is not int and kind is not float) or not (
        0 <= value <= MAX_TIMESTAMP and (kind is int or math.isfinite(value))
    ):
        raise invalid("claim_invalid", f"{name}: expected seconds since the epoch as a number "
                      f"between 0 and {MAX_TIMESTAMP}, found {kind.__name__}")
    return float(value)


def check_times(payload: dict[str, Any], now: float, leeway: float) -> float:
    """``exp`` required and not past, ``nbf`` and ``iat`` not in the future, each with
    ``leeway``; returns ``exp``."""
    exp = number(payload, "exp")
    if exp is None:
        raise invalid("claim_invalid", "exp: expected an expiry time, found none")
    if now >= exp + leeway:
        raise invalid("token_expired", f"exp: expected a time after now - {leeway:g} s, found "
                      f"{now - exp:.0f} s ago")
    if "nbf" in payload:
        nbf = number(payload, "nbf")
        if nbf is not None and nbf > now + leeway:
            raise invalid("token_not_yet_valid", f"nbf: expected at most now + {leeway:g} s, "
                          f"found {nbf - now:.0f} s ahead")
    if "iat" in payload:
        iat = number(payload, "iat")
        if iat is not None and iat > now + leeway:
            raise invalid("iat_in_future", f"iat: expected at most now + {leeway:g} s, found "
                          f"{iat - now:.0f} s ahead")
    return exp


def check_issuer(payload: dict[str, Any], issuer: str) -> None:
    """``iss`` must equal ``issuer`` exactly (no prefix, no trailing-slash tolerance)."""
    iss = payload.get("iss")
    if iss != issuer or type(iss) is not str:
        raise invalid("issuer_mismatch", f"iss: expected {shown(issuer)}, found "
                      f"{shown(iss) if type(iss) is str else type(iss).__name__}")


def check_audience(payload: dict[str, Any], audiences: frozenset[str]) -> None:
    """One of ``audiences`` must be in ``aud`` (a string or a list of strings)."""
    aud = payload.get("aud")
    if type(aud) is str:
        if aud in audiences:
            return
        found = 1
    elif type(aud) is list:
        for a in aud:
            if type(a) is not str:
                raise invalid("claim_invalid", "aud: expected a string or a list of strings, "
                              f"found a list holding {type(a).__name__}")
        if not audiences.isdisjoint(aud):
            return
        found = len(aud)
    elif aud is None and "aud" not in payload:
        raise invalid("audience_mismatch", f"aud: expected {sorted(audiences)}, found none")
    else:
        raise invalid("claim_invalid", "aud: expected a string or a list of strings, found "
                      f"{type(aud).__name__}")
    raise invalid("audience_mismatch", f"aud: expected one of {sorted(audiences)}, found "
                  f"{found} other value(s)")


def check_token_type(payload: dict[str, Any], token_types: frozenset[str]) -> None:
    """Keycloak's ``typ`` claim must be one of ``token_types`` (exact, case-sensitive)."""
    typ = payload.get("typ")
    if type(typ) is not str or typ not in token_types:
        raise invalid("token_type_invalid", f"typ claim: expected one of {sorted(token_types)}, "
                      f"found {named(typ, KNOWN_TOKEN_TYPES)}")
