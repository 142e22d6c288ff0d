"""DPoP on the caller: proofs as RFC 9449 writes them, DPoP at the token endpoint with its
nonce retry, the cache keyed by the key's thumbprint, credentials in the httpx and requests
integrations, and the resource server's nonce retry. No network: MockTransport fakes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import BaseAdapter

from svcauth import TokenEndpointError
from svcauth._jwk import key_from_jwk, thumbprint
from svcauth._jws import ALGORITHMS, b64url_decode, b64url_encode
from svcauth.caller import CachingTokenSource, Credential, DPoPKey
from svcauth.httpx import BearerAuth
from svcauth.requests import BearerAuth as RequestsAuth

from .fakes import TOKEN_URL, FakeClock, FakeTokenEndpoint, make_source

WALL = 1_700_000_000


def _parts(jws: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = jws.split(".")
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(body))


def _signature_ok(jws: str) -> bool:
    head, body, sig = jws.split(".")
    header = json.loads(b64url_decode(head))
    key = key_from_jwk(header["jwk"])
    return ALGORITHMS[header["alg"]].verify(key, f"{head}.{body}".encode(), b64url_decode(sig))


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
def test_proof_has_rfc9449_header_and_claims(alg: str) -> None:
    key = DPoPKey.generate(alg, clock=lambda: WALL + 0.7)
    proof = key.proof("GET", "HTTPS://Api.Example:443/orders?page=2#top", ath="abc")
    header, claims = _parts(proof)
    assert header == {"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk}
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(header["jwk"])
    assert thumbprint(header["jwk"]) == key.jkt
    assert claims["htm"] == "GET"
    assert claims["htu"] == "https://api.example:443/orders"
    assert claims["iat"] == WALL
    assert claims["ath"] == "abc"
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 13
    assert _signature_ok(proof)
    assert _parts(key.proof("GET", "https://api.example/orders"))[1]["jti"] != claims["jti"]


def test_key_from_a_pem_file_keeps_its_thumbprint(tmp_path: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "dpop.pem"
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    assert DPoPKey.from_file(path).jkt == DPoPKey(private).jkt


def _dpop_endpoint(**kw: Any) -> FakeTokenEndpoint:
    endpoint = FakeTokenEndpoint(**kw)
    plain = endpoint.__call__

    def answer(request: httpx.Request) -> httpx.Response:
        response = plain(request)
        if response.status_code == 200 and "dpop" in request.headers:
            body = response.json() | {"token_type": "DPoP"}
            return httpx.Response(200, json=body)
        return response
    endpoint.answer = answer  # type: ignore[attr-defined]
    return endpoint


def _source(endpoint: FakeTokenEndpoint, key: DPoPKey | None, **config: Any) -> CachingTokenSource:
    clock = FakeClock()
    handler = endpoint.answer if hasattr(endpoint, "answer") else endpoint
    return CachingTokenSource(make_source(handler, clock, dpop=key, **config),  # type: ignore[arg-type]
                              clock=clock)


def test_token_request_carries_a_proof_and_the_bound_token_is_sent_as_dpop() -> None:
    endpoint = _dpop_endpoint()
    key = DPoPKey.generate()
    source = _source(endpoint, key)
    credential = source.authorize("POST", "https://pay.example/charges?id=1")
    assert credential.scheme == "DPoP"
    sent = endpoint.requests[0].headers["dpop"]
    assert _parts(sent)[1]["htm"] == "POST" and _parts(sent)[1]["htu"] == TOKEN_URL
    assert "ath" not in _parts(sent)[1]
    (name, proof), = credential.headers
    assert name == "DPoP"
    claims = _parts(proof)[1]
    assert claims["htu"] == "https://pay.example/charges"
    expected_ath = b64url_encode(hashlib.sha256(credential.token.encode()).digest())
    assert claims["ath"] == expected_ath
    # Cached token, fresh proof per request.
    again = source.authorize("POST", "https://pay.example/charges")
    assert again.token == credential.token and again.headers != credential.headers
    assert endpoint.count == 1


def test_bearer_answer_to_a_proof_is_used_as_bearer() -> None:
    endpoint = FakeTokenEndpoint()  # ignores the proof, answers Bearer (RFC 9449 §5)
    source = _source(endpoint, DPoPKey.generate())
    credential = source.authorize("GET", "https://api.example/x")
    assert credential == Credential("Bearer", credential.token)
    assert credential.authorization == f"Bearer {credential.token}"


def test_token_endpoint_nonce_is_retried_once_with_the_nonce() -> None:
    nonce_answer = httpx.Response(400, headers={"DPoP-Nonce": "n-1"}, json={
        "error": "use_dpop_nonce", "error_description": "Authorization server requires nonce"})
    endpoint = _dpop_endpoint(script=[nonce_answer])
    source = _source(endpoint, DPoPKey.generate())
    assert source.authorize("GET", "https://api.example/x").scheme == "DPoP"
    assert endpoint.count == 2
    assert "nonce" not in _parts(endpoint.requests[0].headers["dpop"])[1]
    assert _parts(endpoint.requests[1].headers["dpop"])[1]["nonce"] == "n-1"


def test_token_endpoint_nonce_asked_twice_fails_with_its_code() -> None:
    def nonce(n: str) -> httpx.Response:
        return httpx.Response(400, headers={"DPoP-Nonce": n}, json={"error": "use_dpop_nonce"})
    endpoint = _dpop_endpoint(script=[nonce("n-1"), nonce("n-2")])
    source = _source(endpoint, DPoPKey.generate())
    with pytest.raises(TokenEndpointError) as caught:
        source.token()
    assert caught.value.code == "use_dpop_nonce"
    assert endpoint.count == 2


def test_cache_key_names_the_key_thumbprint() -> None:
    key = DPoPKey.generate()
    with_key = make_source(FakeTokenEndpoint(), FakeClock(), dpop=key).cache_key()
    without = make_source(FakeTokenEndpoint(), FakeClock()).cache_key()
    other = make_source(FakeTokenEndpoint(), FakeClock(), dpop=DPoPKey.generate()).cache_key()
    assert with_key[-1] == key.jkt
    assert len({with_key, without, other}) == 3


class _PlainSource:
    """A TokenSource with token()/atoken() only, as users wrote them before credentials."""

    def __init__(self) -> None:
        self.invalidated: list[str] = []

    def token(self) -> str:
        return "plain-token"

    async def atoken(self) -> str:
        return "plain-token"

    def invalidate(self, access_token: str) -> None:
        self.invalidated.append(access_token)


def test_plain_token_source_is_still_sent_as_bearer() -> None:
    seen: list[str] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200)
    with httpx.Client(transport=httpx.MockTransport(app),
                      auth=BearerAuth(_PlainSource())) as client:  # type: ignore[arg-type]
        assert client.get("https://api.example/x").status_code == 200
    assert seen == ["Bearer plain-token"]


def _nonce_server(calls: list[dict[str, str]]) -> Any:
    def app(request: httpx.Request) -> httpx.Response:
        calls.append(dict(request.headers))  # a copy: httpx resends the same Request
        nonce = _parts(request.headers["dpop"])[1].get("nonce")
        if nonce != "rs-nonce":
            return httpx.Response(401, headers={
                "WWW-Authenticate": 'DPoP error="use_dpop_nonce", error_description="x"',
                "DPoP-Nonce": "rs-nonce"})
        return httpx.Response(200)
    return app


def test_httpx_resource_nonce_is_retried_once_and_remembered() -> None:
    calls: list[dict[str, str]] = []
    source = _source(_dpop_endpoint(), DPoPKey.generate())
    with httpx.Client(transport=httpx.MockTransport(_nonce_server(calls)),
                      auth=BearerAuth(source)) as client:
        assert client.post("https://pay.example/charges", json={}).status_code == 200
        assert client.post("https://pay.example/charges", json={}).status_code == 200
    assert [r["authorization"].split()[0] for r in calls] == ["DPoP"] * 3
    assert [_parts(r["dpop"])[1].get("nonce") for r in calls] == [None, "rs-nonce", "rs-nonce"]


def test_httpx_resource_nonce_is_not_retried_twice() -> None:
    calls: list[httpx.Request] = []

    def always(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"',
                                            "DPoP-Nonce": f"n-{len(calls)}"})
    source = _source(_dpop_endpoint(), DPoPKey.generate())
    with httpx.Client(transport=httpx.MockTransport(always), auth=BearerAuth(source)) as client:
        response = client.get("https://pay.example/charges")
    assert response.status_code == 401
    assert len(calls) == 2


class _Adapter(BaseAdapter):
    """A requests transport answering with a function of the prepared request."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        answer: httpx.Response = self.app(httpx.Request(
            request.method or "GET", request.url or "", headers=dict(request.headers)))
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers.update(answer.headers)
        response._content = answer.content
        response.request = request
        response.connection = self  # type: ignore[attr-defined]
        return response

    def close(self) -> None:
        pass


def test_requests_sends_dpop_and_retries_the_resource_nonce_once() -> None:
    calls: list[dict[str, str]] = []
    source = _source(_dpop_endpoint(), DPoPKey.generate())
    session = requests.Session()
    session.mount("https://", _Adapter(_nonce_server(calls)))
    session.auth = RequestsAuth(source)
    assert session.post("https://pay.example/charges", data=b"{}").status_code == 200
    assert [_parts(r["dpop"])[1].get("nonce") for r in calls] == [None, "rs-nonce"]
    assert all(r["authorization"].startswith("DPoP ") for r in calls)


def test_es256_signatures_stay_valid_when_r_or_s_is_short() -> None:
    # About 1 in 128 signatures has an r or s below 2**248 (a shorter DER integer). Proofs
    # are made until three such have been met (20,000 at most: failing to meet them is
    # e**-150 unlikely), and every proof must verify as fixed-width r || s.
    key = DPoPKey.generate()
    short = 0
    for made in range(1, 20_001):
        proof = key.proof("GET", "https://api.example/x")
        assert _signature_ok(proof), made
        signature = b64url_decode(proof.rsplit(".", 1)[1])
        short += signature[0] == 0 or signature[32] == 0
        if short >= 3 and made >= 300:
            break
    assert short >= 3


def test_dpop_key_from_the_environment(tmp_path: Any) -> None:
    from svcauth.caller import ClientConfig

    base = {"KEYCLOAK_CLIENT_ID": "payment-gateway-dpop", "KEYCLOAK_CLIENT_SECRET": "s",
            "OIDC_ISSUER": "https://sso.example/realms/techstore"}
    assert ClientConfig.from_env(base).dpop is None
    generated = ClientConfig.from_env(base | {"SVCAUTH_DPOP": "1"}).dpop
    assert isinstance(generated, DPoPKey) and generated.alg == "ES256"
    key = DPoPKey.generate()
    path = tmp_path / "dpop.jwk"
    from svcauth._jwk import public_jwk

    private = key._key.private_numbers()  # type: ignore[union-attr]
    jwk = public_jwk(key._key) | {"d": b64url_encode(private.private_value.to_bytes(32, "big"))}
    path.write_text(json.dumps(jwk))
    loaded = ClientConfig.from_env(base | {"SVCAUTH_DPOP_KEY_FILE": str(path)}).dpop
    assert loaded is not None and loaded.jkt == key.jkt
