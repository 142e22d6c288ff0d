"""Test support for the receiver: a fake clock, a realm that signs tokens with keys generated
per test, and a fake JWKS endpoint behind httpx.MockTransport that counts its requests."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from svcauth._jwk import public_jwk
from svcauth._jws import b64url_encode, sign_compact

ISSUER = "http://127.0.0.1:8080/realms/techstore"
OTHER_ISSUER = "http://127.0.0.1:8080/realms/other"
AUDIENCE = "notification-service"
JWKS_URI = ISSUER + "/protocol/openid-connect/certs"
NOW = 1_800_000_000.0


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_key(alg: str, bits: int = 2048) -> Any:
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    return ec.generate_private_key(curve)


def service_claims(now: float = NOW, **overrides: Any) -> dict[str, Any]:
    """A Keycloak client-credentials token's claims for inventory-sync."""
    claims: dict[str, Any] = {
        "exp": int(now) + 300, "iat": int(now), "jti": str(uuid.uuid4()), "iss": ISSUER,
        "aud": [AUDIENCE, "account"], "sub": "3f1c0b1e-0000-4000-8000-000000000001",
        "typ": "Bearer", "azp": "inventory-sync", "acr": "1",
        "realm_access": {"roles": ["offline_access", "default-roles-techstore"]},
        "resource_access": {AUDIENCE: {"roles": ["notifications:send"]},
                            "account": {"roles": ["view-profile"]}},
        "scope": "email profile", "clientHost": "127.0.0.1",
        "preferred_username": "service-account-inventory-sync", "client_id": "inventory-sync",
    }
    for name, value in overrides.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


DROP: Any = object()


class Realm:
    """Signing keys of one provider; ``token()`` signs with them."""

    def __init__(self, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.keys: dict[str, tuple[Any, str]] = {}  # kid -> (private key, alg)

    def add_key(self, alg: str = "RS256", kid: str | None = None, key: Any = None) -> str:
        kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = (key or new_key(alg), alg)
        return kid

    def jwks(self, **member_overrides: Any) -> dict[str, Any]:
        keys = []
        for kid, (key, alg) in self.keys.items():
            jwk: dict[str, Any] = public_jwk(key, kid=kid, alg=alg, use="sig")
            jwk.update(member_overrides)
            keys.append(jwk)
        return {"keys": keys}

    def token(self, claims: dict[str, Any] | None = None, *, kid: str | None = None,
              header: dict[str, Any] | None = None, alg: str | None = None) -> str:
        kid = kid or next(iter(self.keys))
        key, key_alg = self.keys[kid]
        head: dict[str, Any] = {"typ": "JWT", "kid": kid, **(header or {})}
        return sign_compact(claims if claims is not None else service_claims(), key,
                            alg or key_alg, head)


def raw_token(header: Any, payload: Any, signature: bytes = b"sig") -> str:
    """A token from raw parts (no real signature), for checks that come before it."""
    def seg(part: Any) -> str:
        data = part if isinstance(part, bytes) else json.dumps(part).encode()
        return b64url_encode(data)
    return f"{seg(header)}.{seg(payload)}.{b64url_encode(signature)}"


class JwksEndpoint:
    """A fake JWKS endpoint: answers ``document`` (or whatever ``respond`` says), counts
    requests, and can hold requests until released (for single-flight tests)."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.document = document or {"keys": []}
        self.requests = 0
        self.respond: Callable[[httpx.Request], httpx.Response] | None = None
        self.entered = threading.Event()
        self.release: threading.Event | None = None

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.entered.set()
        if self.respond is not None:
            return self.respond(request)
        return httpx.Response(200, json=self.document)

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.release is not None:
            self.entered.set()
            self.release.wait(10)
        return self._answer(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    def async_client(self, gate: Any = None) -> httpx.AsyncClient:
        async def handler(request: httpx.Request) -> httpx.Response:
            if gate is not None:
                self.entered.set()
                await gate.wait()
            return self._answer(request)
        return httpx.AsyncClient(transport=httpx.MockTransport(handler))
