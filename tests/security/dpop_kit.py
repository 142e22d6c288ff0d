"""Shared pieces of the DPoP tests: a token issuer, a caller key, proofs with any field
changed, and guards in each DPoP mode. The clock is injected (``NOW``)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from attack_kit import AUDIENCE, ISSUER, NOW, service_claims
from cryptography.hazmat.primitives.asymmetric import ec

from svcauth._jwk import public_jwk
from svcauth._jws import b64url_encode, sign_compact
from svcauth.caller import DPoPKey
from svcauth.caller._dpop import access_token_hash
from svcauth.receiver import (
    DPoPSettings,
    RequestInfo,
    ServicePolicy,
    StaticKeySet,
    Verifier,
)
from svcauth.receiver._guard import Guard

URL = "https://payments.example/charges"
METHOD = "POST"
ROLE = "notification-service:notifications:send"


def clock() -> float:
    return float(NOW)


@cache
def issuer_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def caller_key() -> DPoPKey:
    return DPoPKey.generate(clock=clock)


@cache
def other_key() -> DPoPKey:
    return DPoPKey.generate(clock=clock)


def key_set() -> StaticKeySet:
    return StaticKeySet([public_jwk(issuer_key(), kid="es-1", alg="ES256")], issuer=ISSUER)


def verifier() -> Verifier:
    return Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=key_set(),
                    algorithms=("ES256",), clock=clock)


def access_token(jkt: str | None = None, **overrides: Any) -> str:
    """A service token; bound to ``jkt`` (``cnf.jkt``, ``typ`` DPoP as Keycloak) when given."""
    claims = service_claims(**overrides)
    if jkt is not None:
        claims.update(cnf={"jkt": jkt}, typ="DPoP")
    return sign_compact(claims, issuer_key(), "ES256", {"kid": "es-1", "typ": "JWT"})


def proof(key: DPoPKey | None = None, *, method: str = METHOD, url: str = URL,
          token: str | None = None, header: dict[str, Any] | None = None,
          claims: dict[str, Any] | None = None, drop: tuple[str, ...] = (),
          signer: DPoPKey | None = None) -> str:
    """A proof by ``key`` for ``method url`` (``ath`` of ``token``), with ``header`` and
    ``claims`` overriding fields, ``drop`` removing claims, ``signer`` signing instead."""
    key = key or caller_key()
    head: dict[str, Any] = {"typ": "dpop+jwt", "alg": key.alg, "jwk": dict(key.jwk)}
    head.update(header or {})
    body: dict[str, Any] = {"jti": b64url_encode(os.urandom(12)), "htm": method, "htu": url,
                            "iat": NOW}
    if token is not None:
        body["ath"] = access_token_hash(token)
    body.update(claims or {})
    for name in drop:
        body.pop(name, None)
    sign_as = signer or key
    return sign_compact(body, sign_as._key, sign_as.alg, head)


def guard(mode: str = "required", **settings: Any) -> Guard[Any]:
    return Guard(verifier(), ServicePolicy(required_roles={ROLE}), realm="techstore",
                 dpop=DPoPSettings(mode=mode, clock=clock, **settings))  # type: ignore[arg-type]


def request(proofs: tuple[str, ...] | list[str], method: str = METHOD,
            url: str = URL) -> RequestInfo:
    return RequestInfo(method, url, tuple(proofs))
