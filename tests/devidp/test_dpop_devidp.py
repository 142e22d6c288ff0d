"""DPoP with the embedded provider: bound tokens as Keycloak 26 issues them, Keycloak's
errors for bad proofs, and the whole way — caller key → bound token → ``Authorization:
DPoP`` + proof → a receiver requiring DPoP (with and without server nonces)."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import httpx
import pytest
from devidp_support import ENV_FILE, claims_of

from svcauth._jws import b64url_decode, b64url_encode
from svcauth.asgi import ServiceAuthMiddleware
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    DPoPKey,
)
from svcauth.devidp import DevIdP, load_env_file
from svcauth.httpx import BearerAuth
from svcauth.receiver import (
    DPoPNonces,
    DPoPSettings,
    ServicePolicy,
    StaticKeySet,
    Verifier,
)
from svcauth.receiver._guard import Guard

ENV = load_env_file(ENV_FILE)
CLIENT = "payment-gateway-dpop"
SECRET = ENV["PAYMENT_GATEWAY_DPOP_CLIENT_SECRET"]


def _post(idp: DevIdP, proof: str | None, client: str = CLIENT,
          secret: str = SECRET) -> httpx.Response:
    headers = {"DPoP": proof} if proof is not None else {}
    return httpx.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                      auth=(client, secret), headers=headers)


def test_a_proof_gets_a_bound_token_like_keycloak(idp: DevIdP) -> None:
    key = DPoPKey.generate()
    answer = _post(idp, key.proof("POST", idp.token_endpoint))
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "DPoP"
    claims = claims_of(body["access_token"])
    assert claims["cnf"] == {"jkt": key.jkt, "kc-jkt-type": "DPoP"}
    assert claims["typ"] == "DPoP"


def test_a_client_not_requiring_dpop_is_bound_only_when_it_sends_a_proof(idp: DevIdP) -> None:
    secret = ENV["SHOP_API_CLIENT_SECRET"]
    plain = _post(idp, None, "shop-api", secret).json()
    assert plain["token_type"] == "Bearer"
    assert "cnf" not in claims_of(plain["access_token"])
    key = DPoPKey.generate()
    bound = _post(idp, key.proof("POST", idp.token_endpoint), "shop-api", secret).json()
    assert bound["token_type"] == "DPoP"
    assert claims_of(bound["access_token"])["cnf"]["jkt"] == key.jkt


def _stale(idp: DevIdP) -> str:
    return DPoPKey.generate(clock=lambda: time.time() - 60).proof("POST", idp.token_endpoint)


def _hs256(idp: DevIdP) -> str:
    proof = DPoPKey.generate().proof("POST", idp.token_endpoint)
    head, rest = proof.split(".", 1)
    header = json.loads(b64url_decode(head))
    header["alg"] = "HS256"
    return b64url_encode(json.dumps(header).encode()) + "." + rest


@pytest.mark.parametrize(("name", "make", "description"), [
    ("missing", lambda idp: None, "DPoP proof is missing"),
    ("another method", lambda idp: DPoPKey.generate().proof("GET", idp.token_endpoint),
     "DPoP HTTP method mismatch"),
    ("another URL", lambda idp: DPoPKey.generate().proof("POST", idp.issuer),
     "DPoP HTTP URL mismatch"),
    ("stale iat", _stale, "DPoP proof is not active"),
    ("HS256", _hs256, "Unsupported DPoP algorithm: HS256"),
    ("not a JWS", lambda idp: "abc", "DPoP header verification failure"),
])
def test_bad_proofs_get_keycloaks_exact_error(idp: DevIdP, name: str, make: Any,
                                              description: str) -> None:
    answer = _post(idp, make(idp))
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": description}


def test_a_replayed_proof_is_refused(idp: DevIdP) -> None:
    proof = DPoPKey.generate().proof("POST", idp.token_endpoint)
    assert _post(idp, proof).status_code == 200
    again = _post(idp, proof)
    assert again.status_code == 400
    assert again.json()["error_description"] == "DPoP proof has already been used"


def _ok_app(seen: list[str]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["auth"].client_id)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


class _Counting(httpx.AsyncBaseTransport):
    """The ASGI app behind a transport that counts the requests and their statuses."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        return response


@pytest.mark.parametrize("nonces", [False, True], ids=["no-nonce", "server-nonce"])
def test_dpop_end_to_end_from_caller_key_to_receiver(idp: DevIdP, nonces: bool) -> None:
    key = DPoPKey.generate()
    source = CachingTokenSource(ClientCredentialsSource(ClientConfig(
        client_id=CLIENT, auth=ClientSecretBasic(SECRET), token_endpoint=idp.token_endpoint,
        dpop=key)))
    verifier = Verifier(issuer=idp.issuer, audience="notification-service",
                        key_set=StaticKeySet(idp.jwks()["keys"], issuer=idp.issuer))
    settings = DPoPSettings(mode="required", nonces=DPoPNonces() if nonces else None)
    guard = Guard(verifier, ServicePolicy(required_roles={
        "notification-service:notifications:send"}), dpop=settings)
    seen: list[str] = []
    before = _token_requests(idp)
    transport = _Counting(ServiceAuthMiddleware(_ok_app(seen), guard))

    async def calls() -> list[int]:
        async with httpx.AsyncClient(transport=transport, base_url="http://payments.test",
                                     auth=BearerAuth(source)) as client:
            return [(await client.post("/charges?x=1", json={"n": i})).status_code
                    for i in range(3)]

    assert anyio.run(calls) == [200, 200, 200]
    assert seen == [CLIENT] * 3
    # With nonces: one use_dpop_nonce answer, then the remembered nonce serves every call.
    assert transport.statuses == ([401, 200, 200, 200] if nonces else [200, 200, 200])
    assert _token_requests(idp) == before + 1


def _token_requests(idp: DevIdP) -> int:
    return int(idp.stats()["token_requests"].get(CLIENT, {}).get("client_credentials", 0))
