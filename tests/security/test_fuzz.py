"""Fuzzing: whatever the input, the verifier, the header parser, the guard, the RFC 6750 mapping
and the ASGI middleware raise nothing but svcauth's own errors and never answer 500.

The default budget is hypothesis' usual 100 examples per test; ``pytest
tests/security/test_fuzz.py --hypothesis-profile=fuzz`` runs 20,000 per test.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
from attack_kit import AUDIENCE, ISSUER, clock, keys, raw_segment, segment, service_claims, sign_raw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svcauth import InvalidRequestError, MissingTokenError, SvcAuthError
from svcauth._jws import b64url_encode
from svcauth.asgi import ServiceAuthMiddleware
from svcauth.receiver import RemoteKeySet, ServiceIdentity, ServicePolicy, StaticKeySet, Verifier
from svcauth.receiver._bearer import parse_authorization
from svcauth.receiver._guard import Guard
from svcauth.receiver._rfc6750 import refusal_for

ALGS = ("RS256", "ES256", "EdDSA")
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_verifier(cache: bool = False) -> Verifier:
    options: dict[str, Any] = {} if cache else {"cache": None}
    return Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=ALGS, clock=clock,
                    key_set=StaticKeySet(keys().jwks(), issuer=ISSUER), **options)


VERIFIER = make_verifier()
CACHED = make_verifier(cache=True)
GUARD = Guard(make_verifier(), ServicePolicy(
    allowed_clients=("shop-api",), required_roles=("notification-service:notifications:send",),
    required_scopes=("email",)))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
HEADER_NAMES = ["alg", "kid", "typ", "crit", "b64", "jwk", "jku", "x5u", "x5c", "cty", "zip", "enc"]
CLAIM_NAMES = ["exp", "nbf", "iat", "iss", "aud", "typ", "azp", "client_id", "sub", "scope",
               "scp", "resource_access", "realm_access"]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@st.composite
def signed_tokens(draw: st.DrawFn) -> str:
    """Tokens correctly signed by a realm key (so every check behind the signature runs),
    with fuzzed header members and claims, or a fuzzed raw payload."""
    alg = draw(st.sampled_from(["ES256", "EdDSA"]))
    key, kid = (keys().ec256, "ec-1") if alg == "ES256" else (keys().ed, "ed-1")
    header: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": kid}
    for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=2)):
        header[name] = draw(json_values)
    if draw(st.booleans()):
        claims = service_claims()
        for name in draw(st.lists(st.sampled_from(CLAIM_NAMES), max_size=4)):
            claims[name] = draw(json_values)
        payload = _dumps(claims)
    else:
        payload = draw(st.binary(max_size=300) | json_values.map(_dumps))
    return sign_raw(segment(header), raw_segment(payload), key, alg)


token_like = st.one_of(
    st.text(max_size=200),
    st.from_regex(r"[A-Za-z0-9_\-=.+/ ]{0,300}", fullmatch=True),
    st.lists(st.binary(max_size=120).map(b64url_encode), min_size=1, max_size=6).map(".".join),
    st.tuples(json_values, json_values, st.binary(max_size=80)).map(
        lambda t: f"{segment(t[0])}.{segment(t[1])}.{b64url_encode(t[2])}"),
    signed_tokens(),
)


@FUZZ
@given(token_like)
def test_verifier_raises_only_its_own_errors(token: str) -> None:
    for verifier in (VERIFIER, CACHED):
        try:
            claims = verifier.verify(token)
        except SvcAuthError as exc:
            assert exc.code and isinstance(exc.message, str)
        else:
            assert claims["iss"] == ISSUER


@FUZZ
@given(token_like)
def test_async_verifier_raises_only_its_own_errors(token: str) -> None:
    try:
        claims = asyncio.run(VERIFIER.averify(token))
    except SvcAuthError as exc:
        assert exc.code
    else:
        assert claims["iss"] == ISSUER


@FUZZ
@given(st.one_of(st.integers(), st.binary(max_size=30), st.none(), st.lists(st.text(), max_size=2)))
def test_verifier_refuses_non_string_tokens_as_malformed(token: Any) -> None:
    try:
        VERIFIER.verify(token)
    except SvcAuthError as exc:
        assert exc.code == "token_malformed"
    else:
        raise AssertionError("a non-string token was accepted")


@FUZZ
@given(signed_tokens())
def test_guard_with_policy_raises_only_its_own_errors(token: str) -> None:
    try:
        identity = GUARD.authenticate(f"Bearer {token}")
    except SvcAuthError:
        return
    assert isinstance(identity, ServiceIdentity) and identity.client_id == "shop-api"


header_values = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.lists(st.text(max_size=40), max_size=3),
    st.tuples(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "", "Bearer\t"]),
              st.text(max_size=60)).map(lambda t: f"{t[0]} {t[1]}"),
)


@FUZZ
@given(header_values, st.booleans())
def test_header_parser_returns_a_b64token_or_raises_its_own_errors(value: Any, query: bool) -> None:
    try:
        token = parse_authorization(value, query_token=query)
    except (MissingTokenError, InvalidRequestError):
        return
    assert B64TOKEN.fullmatch(token)
    assert not query
    assert isinstance(value, str) or len(value) == 1


@FUZZ
@given(st.text(), st.lists(st.text(max_size=30), max_size=4), st.text(max_size=30),
       st.sampled_from(["MissingTokenError", "InvalidRequestError", "InvalidTokenError",
                        "ForbiddenError", "KeySetUnavailableError"]))
def test_refusal_headers_are_always_safe_header_values(realm: str, required: list[str], code: str,
                                                       kind: str) -> None:
    import svcauth

    cls = getattr(svcauth, kind)
    error = cls("m", code=code or None, required=tuple(required)) if kind == "ForbiddenError" \
        else cls("m", code=code or None)
    refusal = refusal_for(error, realm=realm)
    for name, value in refusal.headers:
        assert all(" " <= c <= "~" for c in value), (name, value)
    challenge = refusal.header("WWW-Authenticate")
    if challenge is not None:
        # realm="..." is one well-formed quoted-string, whatever the realm held.
        match = re.match(r'Bearer realm="((?:[^"\\]|\\.)*)"(, |$)', challenge)
        assert match is not None, challenge
        shown = re.sub(r"\\(.)", r"\1", match.group(1))
        assert shown == "".join(c for c in realm if " " <= c <= "~")
    assert json.loads(refusal.body_bytes)["error"]


async def _call_asgi(headers: list[tuple[bytes, bytes]], query: bytes) -> tuple[int, bytes, list[Any]]:
    reached: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["auth"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    middleware = ServiceAuthMiddleware(app, GUARD)
    scope = {"type": "http", "method": "POST", "path": "/notifications", "headers": headers,
             "query_string": query}
    await middleware(scope, receive, send)
    start, body = sent[0], sent[1]
    for _, value in start["headers"]:
        assert b"\r" not in value and b"\n" not in value
    return start["status"], body["body"], reached


@FUZZ
@given(st.lists(st.binary(max_size=120), max_size=3), st.binary(max_size=40), st.data())
def test_asgi_middleware_never_answers_500(values: list[bytes], query: bytes, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        token = data.draw(signed_tokens())
        values = [b"Bearer " + token.encode()]
    headers = [(b"authorization", v) for v in values]
    status, body, reached = asyncio.run(_call_asgi(headers, query))
    if status == 200:
        assert len(reached) == 1
    else:
        assert status in (400, 401, 403), status
        assert set(json.loads(body)) == {"error"}
        assert reached == []


jwk_like = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"kty": st.sampled_from(["RSA", "EC", "OKP", "oct", "", 1])},
        optional={"kid": json_values | st.sampled_from(["rsa-techstore-1", "ec-1"]),
                  "use": st.sampled_from(["sig", "enc", "", None, 1]),
                  "alg": st.sampled_from(["RS256", "ES256", "EdDSA", "HS256", "none", None]),
                  "crv": st.sampled_from(["P-256", "P-384", "Ed25519", "X25519", None]),
                  "n": st.binary(max_size=300).map(b64url_encode) | json_values,
                  "e": st.sampled_from(["AQAB", "AQ", "", "AA"]) | json_values,
                  "x": st.binary(max_size=70).map(b64url_encode) | json_values,
                  "y": st.binary(max_size=70).map(b64url_encode) | json_values,
                  "key_ops": json_values, "d": st.just("AQAB")},
    ),
)
jwks_bodies = st.one_of(
    st.binary(max_size=400),
    json_values.map(_dumps),
    st.lists(jwk_like, max_size=4).map(lambda ks: _dumps({"keys": ks})),
    st.lists(jwk_like, max_size=3).map(
        lambda ks: _dumps({"keys": [*ks, *keys().jwks()["keys"]]})),
)


_SERVED: dict[str, Any] = {}
_JWKS_CLIENT = httpx.Client(transport=httpx.MockTransport(
    lambda request: httpx.Response(200, content=_SERVED["body"], headers=_SERVED["headers"])))


@FUZZ
@given(jwks_bodies, st.sampled_from(["application/json", "text/html", "", "application/jwk-set+json"]),
       signed_tokens())
def test_any_jwks_body_yields_keys_or_jwks_unavailable(body: bytes, media: str, token: str) -> None:
    _SERVED.update(body=body, headers={"Content-Type": media} if media else {})
    key_set = RemoteKeySet(ISSUER + "/certs", issuer=ISSUER, http_client=_JWKS_CLIENT)
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=ALGS, clock=clock,
                        key_set=key_set, cache=None)
    try:
        verifier.verify(token)
    except SvcAuthError as exc:
        assert exc.code
