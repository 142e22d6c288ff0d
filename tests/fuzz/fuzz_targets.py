"""The four fuzz targets, shared by the atheris harness (``run_atheris.py``) and the
hypothesis twins (``test_fuzz_targets.py``).

Each ``check_*`` takes raw bytes, feeds them to one parser and asserts its contract: it
returns a well-formed result or raises only the errors it documents. Anything else (an
``AttributeError``, a ``TypeError``, a ``RecursionError`` ...) escapes and is a crash.

- verifier: ``Verifier.verify`` on the bytes as a token (ASCII-decoded with surrogates kept)
  -> ``Claims`` or ``SvcAuthError``;
- Authorization header: ``parse_authorization`` on the bytes split into header values
  -> a b64token or ``SvcAuthError``;
- token endpoint: ``parse_token_response`` with a status and a body from the bytes
  -> ``Token`` (status 200, non-empty access token) or ``TokenEndpointError``;
- JWKS: ``parse_body`` + ``index_from_jwks`` -> ``KeyIndex`` of supported algorithms, or
  ``KeySetUnavailableError`` / ``ValueError``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from svcauth import KeySetUnavailableError, SvcAuthError, TokenEndpointError
from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact
from svcauth.caller import Token, parse_token_response
from svcauth.receiver import Claims, StaticKeySet, Verifier, parse_authorization
from svcauth.receiver._jwks_fetch import parse_body
from svcauth.receiver._keys import SUPPORTED_ALGS, KeyIndex, index_from_jwks

ISSUER = "http://127.0.0.1:8080/realms/techstore"
AUDIENCE = "notification-service"
NOW = 1_800_000_000.0
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
JWKS_URL = "http://127.0.0.1:8080/realms/techstore/protocol/openid-connect/certs"


@cache
def _keys() -> tuple[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]:
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            ec.generate_private_key(ec.SECP256R1()))


@cache
def verifier() -> Verifier:
    """An uncached verifier of RS256/ES256 tokens at the fixed clock ``NOW``."""
    rsa_key, ec_key = _keys()
    jwks = {"keys": [{**public_jwk(rsa_key.public_key()), "kid": "rsa-1", "alg": "RS256",
                      "use": "sig"},
                     {**public_jwk(ec_key.public_key()), "kid": "ec-1", "alg": "ES256",
                      "use": "sig"}]}
    return Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=("RS256", "ES256"),
                    key_set=StaticKeySet(jwks, issuer=ISSUER), clock=lambda: NOW, cache=None)


def valid_token(alg: str = "ES256") -> str:
    """A token the :func:`verifier` accepts (the seed the fuzzers mutate)."""
    rsa_key, ec_key = _keys()
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": int(NOW) + 300, "iat": int(NOW) - 10,
              "typ": "Bearer", "azp": "shop-api", "sub": "service-account-shop-api",
              "resource_access": {AUDIENCE: {"roles": ["notifications:send"]}}}
    key: Any = rsa_key if alg == "RS256" else ec_key
    kid = "rsa-1" if alg == "RS256" else "ec-1"
    return sign_compact(claims, key, alg, {"typ": "JWT", "kid": kid})


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def check_verifier(data: bytes) -> Claims | None:
    """Verify ``data`` as a token: claims of the fixed issuer, or a svcauth error."""
    try:
        claims = verifier().verify(_text(data))
    except SvcAuthError as exc:
        assert isinstance(exc.code, str) and exc.code
        return None
    assert claims["iss"] == ISSUER
    return claims


def check_authorization(data: bytes) -> str | None:
    """Parse ``data`` (split on NUL into header values; first byte odd: query token too)."""
    query = bool(data[:1]) and data[0] % 2 == 1
    values = [_text(v) for v in data[1:].split(b"\0")] if data else None
    try:
        token = parse_authorization(values, query_token=query)
    except SvcAuthError as exc:
        assert isinstance(exc.code, str) and exc.code
        return None
    assert B64TOKEN.fullmatch(token), "parse_authorization returned a non-b64token"
    return token


_STATUSES = (200, 200, 200, 200, 400, 401, 403, 429, 500, 502, 503)


def check_token_response(data: bytes) -> Token | None:
    """Parse a token-endpoint answer: first byte picks the status, the rest is the body
    (a ``Retry-After`` header is taken from the body's first line when it has one)."""
    status = _STATUSES[data[0] % len(_STATUSES)] if data else 200
    body = data[1:]
    first = body.split(b"\n", 1)[0][:40].decode("latin-1")
    headers = {"Retry-After": first, "Content-Type": "application/json"}
    try:
        token = parse_token_response(status, headers, body, issued_at=NOW, wall_now=NOW)
    except TokenEndpointError as exc:
        assert exc.code and isinstance(exc.code, str)
        return None
    assert status == 200
    assert isinstance(token.access_token, str) and token.access_token
    assert token.token_type == "Bearer"
    assert token.expires_at == token.expires_at  # not NaN
    return token


def check_jwks(data: bytes) -> KeyIndex | None:
    """Parse ``data`` as a JWKS body and index it: usable keys only, or a refusal."""
    try:
        index = index_from_jwks(parse_body(JWKS_URL, data), issuer=ISSUER)
    except (KeySetUnavailableError, ValueError):
        return None
    for entry in index.entries:
        assert entry.alg in SUPPORTED_ALGS
        assert entry.kid is None or isinstance(entry.kid, str)
    return index


TARGETS = {
    "verifier": check_verifier,
    "authorization": check_authorization,
    "token_response": check_token_response,
    "jwks": check_jwks,
}
"""Target name -> check function."""


def seeds(name: str) -> list[bytes]:
    """Starting inputs for ``name`` (valid and near-valid examples)."""
    if name == "verifier":
        return [valid_token("ES256").encode(), valid_token("RS256").encode(), b"a.b.c"]
    if name == "authorization":
        return [b"\0Bearer " + valid_token().encode(), b"\1bearer abc", b"\0Basic x\0Bearer y"]
    if name == "token_response":
        ok = {"access_token": "eyJabc", "token_type": "Bearer", "expires_in": 300,
              "scope": "email profile"}
        return [b"\0" + json.dumps(ok).encode(),
                b"\x04" + json.dumps({"error": "invalid_client"}).encode(),
                b"\x07" + b"120\n" + json.dumps({"error": "slow_down"}).encode()]
    if name == "jwks":
        rsa_key, ec_key = _keys()
        return [json.dumps({"keys": [{**public_jwk(rsa_key.public_key()), "kid": "a",
                                      "alg": "RS256", "use": "sig"},
                                     {**public_jwk(ec_key.public_key()), "kid": "b"}]}).encode(),
                b'{"keys": []}', b'{"keys": [{"kty": "oct", "k": "AAAA"}]}']
    raise KeyError(name)
