"""Keys, claims and token builders for the security suite (attack table, differential, fuzz).

Tokens are built from raw segments so that a test can put anything in them: duplicate JSON
members, invalid UTF-8, non-canonical base64url, forged headers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from svcauth._jwk import public_jwk
from svcauth._jws import ALGORITHMS, PrivateKey, b64url_encode

ISSUER = "http://127.0.0.1:8080/realms/techstore"
OTHER_ISSUER = "http://127.0.0.1:8080/realms/other"
AUDIENCE = "notification-service"
NOW = 1_800_000_000.0
LEEWAY = 30.0
KID = "rsa-techstore-1"
ROLE = "send"
REQUIRED_ROLE = "notification-service:notifications:send"


def clock() -> float:
    """The injected clock every verifier in the suite uses."""
    return NOW


@dataclass(frozen=True)
class Keys:
    """The suite's key material: the realm's keys, an attacker's, another realm's."""

    rsa: rsa.RSAPrivateKey
    ec256: ec.EllipticCurvePrivateKey
    ec384: ec.EllipticCurvePrivateKey
    ed: ed25519.Ed25519PrivateKey
    attacker: rsa.RSAPrivateKey
    other_realm: rsa.RSAPrivateKey
    short_rsa: rsa.RSAPrivateKey

    def jwks(self) -> dict[str, Any]:
        """The realm's JWKS: RS256 key, ES256 key, ES384 key, EdDSA key."""
        return {"keys": [
            public_jwk(self.rsa, kid=KID, alg="RS256", use="sig"),
            public_jwk(self.ec256, kid="ec-1", alg="ES256", use="sig"),
            public_jwk(self.ec384, kid="ec-384", alg="ES384", use="sig"),
            public_jwk(self.ed, kid="ed-1", alg="EdDSA", use="sig"),
        ]}


@cache
def keys() -> Keys:
    """Generated once per test session (RSA generation is the slow part)."""
    return Keys(
        rsa=rsa.generate_private_key(65537, 2048),
        ec256=ec.generate_private_key(ec.SECP256R1()),
        ec384=ec.generate_private_key(ec.SECP384R1()),
        ed=ed25519.Ed25519PrivateKey.generate(),
        attacker=rsa.generate_private_key(65537, 2048),
        other_realm=rsa.generate_private_key(65537, 2048),
        short_rsa=rsa.generate_private_key(65537, 1024),
    )


def service_claims(client: str = "shop-api", **overrides: Any) -> dict[str, Any]:
    """A Keycloak 26 client-credentials access token's claims (about 1 KB), valid at NOW."""
    claims: dict[str, Any] = {
        "exp": int(NOW) + 300,
        "iat": int(NOW) - 10,
        "jti": "trrtcc:6f0c7f4e-55c8-4b0a-9d55-8f7c61f1d3a2",
        "iss": ISSUER,
        "aud": [AUDIENCE, "account"],
        "sub": "0b6d3a57-6a52-4f0a-bb0c-3f2a9a7d1f11",
        "typ": "Bearer",
        "azp": client,
        "acr": "1",
        "allowed-origins": ["/*"],
        "realm_access": {"roles": ["offline_access", "uma_authorization", "default-roles-techstore"]},
        "resource_access": {
            "notification-service": {"roles": ["notifications:send"]},
            "account": {"roles": ["manage-account", "view-profile"]},
        },
        "scope": "email profile",
        "clientHost": "127.0.0.1",
        "email_verified": False,
        "preferred_username": f"service-account-{client}",
        "client_id": client,
        "clientAddress": "127.0.0.1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not _DROP}


_DROP = object()
DROP: Any = _DROP
"""Pass as a claim or header value to leave the member out."""


def user_claims(**overrides: Any) -> dict[str, Any]:
    """A user's access token (password/auth-code flow) from the same realm, for shop-api."""
    claims = service_claims(client="storefront", client_id=DROP, clientHost=DROP,
                            clientAddress=DROP, preferred_username="alice",
                            sid="1b3c1f0e-5d8e-4c2a-9d1c-7f0e6c1d2b3a", auth_time=int(NOW) - 60)
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not _DROP}


def segment(obj: Any) -> str:
    """A JSON value as a base64url segment (compact JSON)."""
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def raw_segment(data: bytes) -> str:
    """Raw bytes as a base64url segment."""
    return b64url_encode(data)


def sign_raw(header_b64: str, payload_b64: str, key: PrivateKey, alg: str) -> str:
    """A compact JWS over exactly these two segments, signed with ``key``."""
    signing_input = f"{header_b64}.{payload_b64}"
    signature = ALGORITHMS[alg].sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def mint(
    claims: Mapping[str, Any] | None = None,
    *,
    key: PrivateKey | None = None,
    alg: str = "RS256",
    kid: str | None = KID,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A signed token: ``{"alg", "typ": "JWT", "kid"}`` + ``header`` over ``claims``."""
    h: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        h["kid"] = kid
    h.update(header or {})
    h = {k: v for k, v in h.items() if v is not _DROP}
    body = service_claims() if claims is None else dict(claims)
    return sign_raw(segment(h), segment(body), key or keys().rsa, alg)


def default_kid(alg: str) -> str:
    """The kid of the realm key for ``alg``."""
    return {"RS256": KID, "ES256": "ec-1", "ES384": "ec-384", "EdDSA": "ed-1"}[alg]


def realm_key(alg: str) -> PrivateKey:
    """The realm's private key for ``alg``."""
    k = keys()
    return {"RS256": k.rsa, "ES256": k.ec256, "ES384": k.ec384, "EdDSA": k.ed}[alg]
