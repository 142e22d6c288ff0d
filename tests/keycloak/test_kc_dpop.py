"""DPoP (RFC 9449) against a real Keycloak 26.7.3: the realm file's ``payment-gateway-dpop``
client ("Require DPoP bound tokens", attribute ``dpop.bound.access.tokens``) gets bound tokens
that svcauth's receiver accepts with DPoP required, and the embedded provider answers every
DPoP request as Keycloak does (token type, ``cnf``, ``typ``, errors)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

from keycloak_support import REALM_FILE, SECRET_VARS, claims_of
from svcauth._jws import b64url_decode, b64url_encode
from svcauth.asgi import ServiceAuthMiddleware
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    DPoPKey,
)
from svcauth.devidp import DevIdP
from svcauth.httpx import BearerAuth
from svcauth.keycloak import KeycloakEndpoints
from svcauth.receiver import DPoPSettings, RemoteKeySet, ServicePolicy, Verifier
from svcauth.receiver._guard import Guard

pytestmark = pytest.mark.keycloak

CLIENT = "payment-gateway-dpop"


@pytest.fixture(scope="module")
def endpoints(keycloak: KeycloakEndpoints,
              keycloak_env: dict[str, str]) -> Iterator[dict[str, tuple[str, str]]]:
    """name -> (issuer, token endpoint) of the real Keycloak and the embedded provider."""
    with DevIdP(REALM_FILE, env=keycloak_env) as idp:
        yield {"keycloak": (keycloak.issuer, keycloak.token_endpoint),
               "devidp": (idp.issuer, idp.token_endpoint)}


def _post(token_endpoint: str, env: dict[str, str], proof: str | None,
          client: str = CLIENT) -> httpx.Response:
    headers = {"DPoP": proof} if proof is not None else {}
    return httpx.post(token_endpoint, data={"grant_type": "client_credentials"},
                      auth=(client, env[SECRET_VARS[client]]), headers=headers, timeout=30.0)


def test_dpop_token_from_keycloak_passes_a_receiver_requiring_dpop(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    key = DPoPKey.generate()
    source = CachingTokenSource(ClientCredentialsSource(ClientConfig(
        client_id=CLIENT, auth=ClientSecretBasic(keycloak_env[SECRET_VARS[CLIENT]]),
        token_endpoint=keycloak.token_endpoint, dpop=key)))
    source.token()
    token = source.cached()
    assert token is not None and token.token_type == "DPoP"
    assert claims_of(token.access_token)["cnf"] == {"jkt": key.jkt, "kc-jkt-type": "DPoP"}
    verifier = Verifier(issuer=keycloak.issuer, audience="notification-service",
                        key_set=RemoteKeySet(keycloak.jwks_uri, issuer=keycloak.issuer))
    guard = Guard(verifier, ServicePolicy(required_roles={
        "notification-service:notifications:send"}), dpop=DPoPSettings(mode="required"))
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["auth"].client_id)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=ServiceAuthMiddleware(app, guard))

    async def calls() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url="http://payments.test",
                                     auth=BearerAuth(source)) as client:
            return [(await client.post("/charges", json={})).status_code for _ in range(2)]

    assert anyio.run(calls) == [204, 204]
    assert seen == [CLIENT, CLIENT]

    # The same token without its proof is refused.
    async def stolen() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://payments.test") as c:
            return await c.post("/charges", headers={
                "Authorization": f"Bearer {token.access_token}"})
    refused = anyio.run(stolen)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('DPoP realm="svcauth"')


def test_dpop_bound_token_matches_keycloak(endpoints: dict[str, tuple[str, str]],
                                           keycloak_env: dict[str, str]) -> None:
    seen: dict[str, tuple[Any, ...]] = {}
    for name, (_issuer, token_endpoint) in endpoints.items():
        key = DPoPKey.generate()
        answer = _post(token_endpoint, keycloak_env, key.proof("POST", token_endpoint))
        assert answer.status_code == 200, (name, answer.text)
        body = answer.json()
        claims = claims_of(body["access_token"])
        assert claims["cnf"]["jkt"] == key.jkt
        seen[name] = (body["token_type"], claims["typ"], claims["cnf"]["kc-jkt-type"],
                      body.get("refresh_expires_in"), "refresh_token" in body)
    assert seen["keycloak"] == seen["devidp"]
    assert seen["keycloak"][:2] == ("DPoP", "DPoP")


def _hs256(token_endpoint: str) -> str:
    proof = DPoPKey.generate().proof("POST", token_endpoint)
    head, rest = proof.split(".", 1)
    header = json.loads(b64url_decode(head)) | {"alg": "HS256"}
    return b64url_encode(json.dumps(header).encode()) + "." + rest


def _private_jwk(token_endpoint: str) -> str:
    from svcauth._jws import sign_compact

    key = DPoPKey.generate()
    jwk = dict(key.jwk)
    jwk["d"] = b64url_encode(key._key.private_numbers().private_value.to_bytes(32, "big"))  # type: ignore[union-attr]
    claims = {"jti": b64url_encode(str(time.time()).encode()), "htm": "POST",
              "htu": token_endpoint, "iat": int(time.time())}
    return sign_compact(claims, key._key, "ES256", {"typ": "dpop+jwt", "jwk": jwk})


CASES: dict[str, Callable[[str], str | None]] = {
    "missing proof": lambda url: None,
    "another method": lambda url: DPoPKey.generate().proof("GET", url),
    "another URL": lambda url: DPoPKey.generate().proof("POST", url + "/x"),
    "stale iat": lambda url: DPoPKey.generate(clock=lambda: time.time() - 120).proof("POST", url),
    "future iat": lambda url: DPoPKey.generate(clock=lambda: time.time() + 120).proof("POST", url),
    "HS256": _hs256,
    "private jwk": _private_jwk,
    "not a JWS": lambda url: "abc",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dpop_error_matches_keycloak(endpoints: dict[str, tuple[str, str]],
                                     keycloak_env: dict[str, str], case: str) -> None:
    answers = {}
    for name, (_issuer, token_endpoint) in endpoints.items():
        answer = _post(token_endpoint, keycloak_env, CASES[case](token_endpoint))
        answers[name] = (answer.status_code, answer.json().get("error"),
                         answer.json().get("error_description"))
    assert answers["keycloak"] == answers["devidp"]
    assert answers["keycloak"][:2] == (400, "invalid_request")


def test_dpop_replayed_proof_matches_keycloak(endpoints: dict[str, tuple[str, str]],
                                              keycloak_env: dict[str, str]) -> None:
    answers = {}
    for name, (_issuer, token_endpoint) in endpoints.items():
        proof = DPoPKey.generate().proof("POST", token_endpoint)
        first = _post(token_endpoint, keycloak_env, proof)
        again = _post(token_endpoint, keycloak_env, proof)
        answers[name] = (first.status_code, again.status_code, again.json())
    assert answers["keycloak"] == answers["devidp"]
    assert answers["keycloak"][:2] == (200, 400)
