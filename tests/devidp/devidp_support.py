"""Helpers for the development identity provider tests: paths of the repo's realm and
dev.env, decoding, independent verification (PyJWT) and client-assertion building."""

from __future__ import annotations

import functools
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt

from svcauth._jwk import load_private_key
from svcauth._jws import b64url_decode, sign_compact

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "techstore-realm.json"
ENV_FILE = ROOT / "deploy" / "dev.env"
INVENTORY_KEY = ROOT / "deploy" / "dev" / "inventory-sync.key.pem"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def claims_of(token: str) -> dict[str, Any]:
    """Decode a JWT's payload without verifying (tests verify separately)."""
    return json.loads(b64url_decode(token.split(".")[1]))  # type: ignore[no-any-return]


def header_of(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[0]))  # type: ignore[no-any-return]


def verify_with_pyjwt(token: str, jwks: dict[str, Any], *, issuer: str,
                      audience: str | None = None) -> dict[str, Any]:
    """Verify with PyJWT against a static JWKS (no PyJWKClient), the independent check."""
    kid = header_of(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    key = jwt.PyJWK(jwk).key
    options = {"verify_aud": audience is not None}
    return jwt.decode(token, key=key, algorithms=["RS256"], issuer=issuer,  # type: ignore[no-any-return]
                      audience=audience, options=options)


def secret_form(env: dict[str, str], client_id: str, **extra: str) -> dict[str, str]:
    var = client_id.upper().replace("-", "_") + "_CLIENT_SECRET"
    return {"grant_type": "client_credentials", "client_id": client_id,
            "client_secret": env[var], **extra}


@functools.cache
def inventory_key() -> Any:
    """inventory-sync's dev private key (deploy/dev/inventory-sync.key.pem)."""
    return load_private_key(INVENTORY_KEY)[0]


def assertion(aud: Any, *, key: Any = None, now: float | None = None, exp_in: float = 30,
              iat: bool = True, jti: str | None = "fresh", sub: str = "inventory-sync",
              iss: str | None = None, alg: str = "RS256", kid: str | None = None,
              with_exp: bool = True) -> str:
    """A client assertion for inventory-sync (RFC 7523), signed with its dev key."""
    signing_key = key if key is not None else inventory_key()
    t = time.time() if now is None else now
    claims: dict[str, Any] = {"iss": iss or sub, "sub": sub, "aud": aud}
    if with_exp:
        claims["exp"] = int(t + exp_in)
    if iat:
        claims["iat"] = int(t)
    if jti is not None:
        claims["jti"] = str(uuid.uuid4()) if jti == "fresh" else jti
    headers = {"typ": "JWT"} | ({"kid": kid} if kid else {})
    return sign_compact(claims, signing_key, alg, headers)


def jwt_form(client_assertion: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": client_assertion, **extra}


def post(url: str, data: dict[str, str], **kw: Any) -> httpx.Response:
    return httpx.post(url, data=data, timeout=10, **kw)


def public_storefront_realm(target: Path) -> Path:
    """A TEST-ONLY copy of the project realm in which storefront is the public client with
    direct access grants it used to be: for the tests of the provider's password grant and
    public-client refusals. The project realm has no password grant on its user paths."""
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    client = next(c for c in realm["clients"] if c["clientId"] == "storefront")
    client.update(publicClient=True, directAccessGrantsEnabled=True,
                  webOrigins=["http://127.0.0.1:8081"])
    for key in ("secret", "clientAuthenticatorType"):
        client.pop(key, None)
    target.write_text(json.dumps(realm), encoding="utf-8")
    return target
