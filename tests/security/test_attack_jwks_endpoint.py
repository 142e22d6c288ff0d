"""Attacks through the key set: kid floods, hostile or broken JWKS endpoints, keys that may
not verify. The endpoint is an ``httpx.MockTransport`` counting every request (real loopback
servers: test_attack_jwks_servers.py). Both clocks are injected; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from attack_kit import (
    AUDIENCE,
    ISSUER,
    KID,
    NOW,
    OTHER_ISSUER,
    clock,
    keys,
    mint,
    segment,
    service_claims,
)

from svcauth import ConfigurationError, InvalidTokenError, KeySetUnavailableError
from svcauth._jwk import public_jwk
from svcauth._jws import b64url_encode
from svcauth.receiver import RemoteKeySet, Verifier

JWKS_URI = "http://127.0.0.1:8080/realms/techstore/protocol/openid-connect/certs"
MiB = 1024 * 1024


class Mono:
    """An injected monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Endpoint:
    """A JWKS endpoint behind MockTransport: ``answer`` decides, ``requests`` records."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[str] = []
        self.answer = answer or (lambda request: httpx.Response(200, json=keys().jwks()))

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        return self.answer(request)

    def key_set(self, mono: Mono, **options: Any) -> RemoteKeySet:
        return RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=mono,
                            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
                            async_http_client=httpx.AsyncClient(
                                transport=httpx.MockTransport(self.handler)),
                            **options)


def verifier(key_set: RemoteKeySet, **kw: Any) -> Verifier:
    return Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=key_set, clock=clock, cache=None,
                    **kw)


def code_of(v: Verifier, token: str) -> str:
    try:
        v.verify(token)
    except (InvalidTokenError, KeySetUnavailableError) as exc:
        return exc.code
    return "accepted"


def unknown_kid_tokens(n: int, prefix: str = "flood") -> Iterator[str]:
    """Tokens with distinct made-up kids. The signature is junk: a kid that is not found is
    refused before any signature work, which is what makes the flood cheap to send."""
    payload = segment(service_claims())
    junk = b64url_encode(b"\x01" * 256)
    for i in range(n):
        yield f"{segment({'alg': 'RS256', 'typ': 'JWT', 'kid': f'{prefix}-{i}'})}.{payload}.{junk}"


# -- unknown-kid floods -----------------------------------------------------------------------


def test_ten_thousand_unknown_kids_cost_one_fetch_per_cooldown() -> None:
    endpoint, mono = Endpoint(), Mono()
    key_set = endpoint.key_set(mono)
    v = verifier(key_set)
    codes = {code_of(v, t) for t in unknown_kid_tokens(10_000)}
    assert codes == {"key_not_found"}
    assert len(endpoint.requests) == 1  # the cold start; the flood itself fetched nothing
    mono.t += 29.9
    assert {code_of(v, t) for t in unknown_kid_tokens(10_000, "b")} == {"key_not_found"}
    assert len(endpoint.requests) == 1
    mono.t += 0.2  # past the 30 s cooldown: one refetch, whatever the flood size
    assert {code_of(v, t) for t in unknown_kid_tokens(10_000, "c")} == {"key_not_found"}
    assert len(endpoint.requests) == 2
    assert code_of(v, mint()) == "accepted"
    assert len(endpoint.requests) == 2
    assert endpoint.requests == [JWKS_URI, JWKS_URI]


@pytest.mark.anyio
async def test_concurrent_unknown_kid_flood_shares_one_fetch() -> None:
    endpoint, mono = Endpoint(), Mono()
    v = verifier(endpoint.key_set(mono))

    async def one(token: str) -> str:
        try:
            await v.averify(token)
        except InvalidTokenError as exc:
            return exc.code
        return "accepted"

    codes = await asyncio.gather(*(one(t) for t in unknown_kid_tokens(2_000)))
    assert set(codes) == {"key_not_found"}
    assert len(endpoint.requests) == 1


def test_a_rotated_in_kid_is_found_after_the_cooldown() -> None:
    """The cooldown limits refetches but does not lock new keys out for longer than itself."""
    served = {"jwks": keys().jwks()}
    endpoint, mono = Endpoint(lambda r: httpx.Response(200, json=served["jwks"])), Mono()
    v = verifier(endpoint.key_set(mono))
    assert code_of(v, mint()) == "accepted"
    served["jwks"] = {"keys": [*keys().jwks()["keys"], public_jwk(keys().other_realm, kid="rsa-2", alg="RS256")]}
    rotated = mint(key=keys().other_realm, kid="rsa-2")
    assert code_of(v, rotated) == "key_not_found"  # within the cooldown of the first fetch
    mono.t += 30.0
    assert code_of(v, rotated) == "accepted"
    assert len(endpoint.requests) == 2


# -- keys the endpoint serves that may not verify -------------------------------------------


@pytest.mark.parametrize(("name", "jwks", "token", "code"), [
    ("use_enc_key_keycloak_rsa_oaep",
     lambda: {"keys": [public_jwk(keys().rsa, kid=KID, alg="RS256", use="sig"),
                       public_jwk(keys().other_realm, kid="enc-1", alg="RSA-OAEP", use="enc")]},
     lambda: mint(key=keys().other_realm, kid="enc-1"), "key_not_found"),
    ("use_enc_key_without_alg",
     lambda: {"keys": [public_jwk(keys().rsa, kid=KID, use="sig"),
                       public_jwk(keys().other_realm, kid="enc-2", use="enc")]},
     lambda: mint(key=keys().other_realm, kid="enc-2"), "key_not_found"),
    ("short_rsa_key_next_to_a_good_one",
     lambda: {"keys": [public_jwk(keys().rsa, kid=KID, use="sig"),
                       public_jwk(keys().short_rsa, kid="short", use="sig")]},
     lambda: mint(key=keys().short_rsa, kid="short"), "key_not_found"),
    ("only_short_rsa_keys",
     lambda: {"keys": [public_jwk(keys().short_rsa, kid="short", use="sig")]},
     lambda: mint(key=keys().short_rsa, kid="short"), "jwks_unavailable"),
    ("symmetric_key_published",
     lambda: {"keys": [public_jwk(keys().rsa, kid=KID, use="sig"),
                       {"kty": "oct", "kid": "hmac", "k": b64url_encode(b"secret" * 6)}]},
     lambda: mint(header={"alg": "HS256"}, kid="hmac"), "alg_not_allowed"),
    ("private_key_published",
     lambda: {"keys": [{**public_jwk(keys().rsa, kid="priv"),
                        "d": b64url_encode(keys().rsa.private_numbers().d.to_bytes(256, "big"))}]},
     lambda: mint(kid="priv"), "jwks_unavailable"),
])
def test_unusable_published_keys_never_verify(name: str, jwks: Callable[[], Any], token: Callable[[], str], code: str) -> None:
    document = jwks()
    endpoint = Endpoint(lambda r: httpx.Response(200, json=document))
    assert code_of(verifier(endpoint.key_set(Mono())), token()) == code


def test_header_key_urls_are_never_fetched() -> None:
    endpoint = Endpoint()
    v = verifier(endpoint.key_set(Mono()))
    for header in ({"jku": "http://127.0.0.1:9/evil-jwks"}, {"x5u": "http://127.0.0.1:9/evil.pem"}):
        token = mint(key=keys().attacker, kid="evil", header=header)
        assert code_of(v, token) == "key_not_found"
    assert endpoint.requests == [JWKS_URI]


def test_key_set_of_another_issuer_is_refused_at_construction() -> None:
    key_set = Endpoint().key_set(Mono())
    with pytest.raises(ConfigurationError):
        Verifier(issuer=OTHER_ISSUER, audience=AUDIENCE, key_set=key_set)


# -- hostile or broken endpoints --------------------------------------------------------------


def _stream(total: int, chunk: int, pulled: list[int]) -> Iterator[bytes]:
    block = b"{" + b" " * (chunk - 1)
    sent = 0
    while sent < total:
        pulled.append(chunk)
        sent += chunk
        yield block


ENDPOINT_FAULTS: list[tuple[str, Callable[[httpx.Request], httpx.Response]]] = [
    ("redirect_302", lambda r: httpx.Response(302, headers={"Location": JWKS_URI + "/moved"})),
    ("redirect_307_same_url", lambda r: httpx.Response(307, headers={"Location": JWKS_URI})),
    ("redirect_301_to_attacker", lambda r: httpx.Response(301, headers={"Location": "http://127.0.0.1:9/jwks"})),
    ("html_login_page", lambda r: httpx.Response(200, html="<html><body>Sign in</body></html>")),
    ("html_without_content_type", lambda r: httpx.Response(200, content=b"<!doctype html><html></html>")),
    ("json_array", lambda r: httpx.Response(200, json=[public_jwk(keys().rsa, kid=KID)])),
    ("json_without_keys", lambda r: httpx.Response(200, json={"kid": KID})),
    ("keys_not_a_list", lambda r: httpx.Response(200, json={"keys": {"a": 1}})),
    ("empty_key_list", lambda r: httpx.Response(200, json={"keys": []})),
    ("truncated_json", lambda r: httpx.Response(200, content=json.dumps(keys().jwks()).encode()[:-5],
                                                headers={"Content-Type": "application/json"})),
    ("http_500", lambda r: httpx.Response(500, text="oops")),
    ("http_404", lambda r: httpx.Response(404)),
    ("http_204", lambda r: httpx.Response(204)),
    ("declared_50_mib", lambda r: httpx.Response(200, headers={"Content-Length": str(50 * MiB),
                                                               "Content-Type": "application/json"},
                                                 content=b"{}")),
    ("gzip_encoded", lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip",
                                                            "Content-Type": "application/json"},
                                              content=b"\x1f\x8b")),
    ("connection_refused", lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused"))),
    ("read_timeout", lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow"))),
]


@pytest.mark.parametrize(("name", "answer"), ENDPOINT_FAULTS, ids=[f[0] for f in ENDPOINT_FAULTS])
def test_broken_endpoint_on_cold_start_is_jwks_unavailable(name: str, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    endpoint = Endpoint(answer)
    v = verifier(endpoint.key_set(Mono()))
    assert code_of(v, mint()) == "jwks_unavailable"
    assert endpoint.requests == [JWKS_URI]  # one attempt, no redirect followed


@pytest.mark.parametrize(("name", "answer"), ENDPOINT_FAULTS, ids=[f[0] for f in ENDPOINT_FAULTS])
@pytest.mark.anyio
async def test_broken_endpoint_on_cold_start_is_jwks_unavailable_async(name: str, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    endpoint = Endpoint(answer)
    v = verifier(endpoint.key_set(Mono()))
    with pytest.raises(KeySetUnavailableError) as info:
        await v.averify(mint())
    assert info.value.code == "jwks_unavailable"
    assert endpoint.requests == [JWKS_URI]


def test_fifty_mib_streamed_body_is_cut_at_the_cap() -> None:
    pulled: list[int] = []
    endpoint = Endpoint(lambda r: httpx.Response(200, headers={"Content-Type": "application/json"},
                                                 content=_stream(50 * MiB, 64 * 1024, pulled)))
    v = verifier(endpoint.key_set(Mono()))
    assert code_of(v, mint()) == "jwks_unavailable"
    # The default cap is 512 KiB: the read stopped one chunk past it, not at 50 MiB.
    assert sum(pulled) <= 512 * 1024 + 64 * 1024


@pytest.mark.anyio
async def test_fifty_mib_streamed_body_is_cut_at_the_cap_async() -> None:
    pulled: list[int] = []

    async def body() -> Any:
        for chunk in _stream(50 * MiB, 64 * 1024, pulled):
            yield chunk

    endpoint = Endpoint(lambda r: httpx.Response(200, headers={"Content-Type": "application/json"},
                                                 content=body()))
    v = verifier(endpoint.key_set(Mono()))
    with pytest.raises(KeySetUnavailableError):
        await v.averify(mint())
    assert sum(pulled) <= 512 * 1024 + 64 * 1024


# -- failures after keys were fetched: cached keys keep working --------------------------------


def test_failing_endpoint_keeps_cached_keys_working_until_stale_limit() -> None:
    state = {"up": True}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=keys().jwks()) if state["up"] else httpx.Response(503)

    endpoint, mono = Endpoint(answer), Mono()
    key_set = endpoint.key_set(mono)
    v = verifier(key_set)
    assert code_of(v, mint()) == "accepted"
    state["up"] = False
    mono.t += 11 * 60  # past max_age: every use tries (at most once per cooldown) to refresh
    assert code_of(v, mint()) == "accepted"
    assert code_of(v, mint(service_claims(jti="2"))) == "accepted"
    assert len(endpoint.requests) == 2
    assert code_of(v, mint(kid="rotated-away")) == "key_not_found"
    mono.t += 23 * 3600  # still inside the 24 h stale-if-error window
    assert code_of(v, mint()) == "accepted"
    assert len(endpoint.requests) == 3
    mono.t += 3600  # past 24 h since the last successful fetch: the keys are dropped
    assert code_of(v, mint()) == "jwks_unavailable"
    state["up"] = True
    mono.t += 30
    assert code_of(v, mint()) == "accepted"


def test_endpoint_serving_html_later_keeps_the_good_keys() -> None:
    state = {"html": False}

    def answer(request: httpx.Request) -> httpx.Response:
        if state["html"]:
            return httpx.Response(200, html="<html>maintenance</html>")
        return httpx.Response(200, json=keys().jwks())

    endpoint, mono = Endpoint(answer), Mono()
    v = verifier(endpoint.key_set(mono))
    assert code_of(v, mint()) == "accepted"
    state["html"] = True
    mono.t += 700
    assert code_of(v, mint()) == "accepted"
    assert len(endpoint.requests) == 2


def test_expired_token_is_refused_even_when_keys_are_stale() -> None:
    endpoint, mono = Endpoint(), Mono()
    v = verifier(endpoint.key_set(mono))
    assert code_of(v, mint(service_claims(exp=int(NOW) - 100))) == "token_expired"
