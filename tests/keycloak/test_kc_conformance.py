"""Conformance of the embedded dev IdP (svcauth.devidp) with a real Keycloak: the same requests
to both, the answers compared field by field.

Compared: the token response (field names, JSON types, values that do not differ by nature),
every token's header and claims (names and JSON types at every depth; the values of all claims
except those in ``BY_NATURE``, with ``aud``, ``scope`` and role lists as sets, the string-vs-array
form of ``aud`` kept), the error answers of the token endpoint (status, ``error``,
``error_description``) and the discovery keys svcauth uses. Both providers read the same
realm file and deploy/dev.env.
"""

from __future__ import annotations

import re
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from keycloak_support import (
    JWT_BEARER,
    REALM_FILE,
    SECRET_VARS,
    claims_of,
    header_of,
    inventory_assertion,
    jwt_form,
)
from mockmart.system.code_login import login_response
from svcauth.devidp import DevIdP
from svcauth.keycloak import KeycloakEndpoints

pytestmark = pytest.mark.keycloak

BY_NATURE = {
    "jti": "random per token; only its kind prefix (trrtcc:/onrtro:/none) is compared",
    "sub": "user UUIDs are generated at import (devidp: uuid5 of realm and username)",
    "iat": "issue time; exp - iat is compared",
    "exp": "issue time + lifespan; exp - iat is compared",
    "iss": "scheme, host and port of each server; the path is compared",
    "sid": "random per session; session_state == sid is compared",
    "at_hash": "hash of a different access token",
    "auth_time": "the second each provider's login happened (code-flow subjects)",
    "aud_x": "refresh token: the access token's aud, compared as a set",
}
"""Claims whose values differ between the two providers by nature (names and types still equal)."""
HEADER_BY_NATURE = {"kid": "each server's own key id (checked to be in its JWKS)"}
RESPONSE_BY_NATURE = {
    "access_token", "refresh_token", "id_token", "session_state", "expires_in",
    "refresh_expires_in", "scope"}
"""Token response fields compared otherwise: tokens by their claims, session_state == sid,
expires_in and refresh_expires_in against their token's exp - iat, scope as a set."""
DISCOVERY_URLS = ("issuer", "token_endpoint", "jwks_uri", "introspection_endpoint",
                  "revocation_endpoint")
"""Discovery keys svcauth uses whose values are URLs: compared by path."""
DISCOVERY_SETS = ("grant_types_supported", "token_endpoint_auth_methods_supported",
                  "introspection_endpoint_auth_methods_supported")
"""Discovery keys svcauth uses whose values are lists: compared as sets."""
SERVICE_CLIENTS = ("shop-api", "cart-reminder-job", "payment-provider", "reporting-job",
                   "inventory-sync")


@dataclass(frozen=True)
class Provider:
    """One of the two servers under comparison."""

    name: str
    issuer: str
    token_endpoint: str
    jwks_uri: str


@pytest.fixture(scope="module")
def providers(keycloak: KeycloakEndpoints,
              keycloak_env: dict[str, str]) -> Iterator[tuple[Provider, Provider]]:
    """(real Keycloak, dev IdP), both with the repo's realm file and dev values."""
    with DevIdP(REALM_FILE, env=keycloak_env) as idp:
        yield (Provider("keycloak", keycloak.issuer, keycloak.token_endpoint, keycloak.jwks_uri),
               Provider("devidp", idp.issuer, idp.token_endpoint, idp.jwks_uri))


def _shape(value: Any) -> Any:
    """JSON names and types at every depth (a list: the set of its elements' shapes)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return ("array", frozenset(repr(_shape(v)) for v in value))
    return type(value).__name__


def _roles(value: dict[str, Any]) -> dict[str, Any]:
    return {k: frozenset(v) if isinstance(v, list) else v for k, v in value.items()}


def _comparable(claims: dict[str, Any], issuer: str) -> dict[str, Any]:
    """The claim values that must be equal, normalised where the order is not stable (and
    the issuer URL, the refresh token's ``aud``, written as ``<issuer>``)."""
    out: dict[str, Any] = {}
    for name, value in claims.items():
        if name in BY_NATURE:
            continue
        if name == "aud":
            auds = [value] if isinstance(value, str) else value
            value = (type(value).__name__,
                     frozenset("<issuer>" if a == issuer else a for a in auds))
        elif name == "scope":
            value = frozenset(value.split())
        elif name == "realm_access":
            value = _roles(value)
        elif name == "resource_access":
            value = {client: _roles(roles) for client, roles in value.items()}
        out[name] = value
    return out


def _jti_kind(jti: str) -> str:
    prefix, sep, rest = jti.rpartition(":")
    uuid.UUID(rest)  # the part after the prefix is a UUID on both
    return prefix + sep


def _assert_same_token(kc_token: str, dev_token: str, kc: Provider, dev: Provider,
                       kc_keys: set[str], dev_keys: set[str], *, hmac: bool = False) -> None:
    kh, dh = header_of(kc_token), header_of(dev_token)
    assert _shape(kh) == _shape(dh)
    assert {k: v for k, v in kh.items() if k not in HEADER_BY_NATURE} == \
        {k: v for k, v in dh.items() if k not in HEADER_BY_NATURE}
    if not hmac:  # HMAC keys are never published
        assert (kh["kid"] in kc_keys, dh["kid"] in dev_keys) == (True, True)
    kc_claims, dev_claims = claims_of(kc_token), claims_of(dev_token)
    assert _shape(kc_claims) == _shape(dev_claims)
    assert _comparable(kc_claims, kc.issuer) == _comparable(dev_claims, dev.issuer)
    assert kc_claims["exp"] - kc_claims["iat"] == dev_claims["exp"] - dev_claims["iat"]
    assert _jti_kind(kc_claims["jti"]) == _jti_kind(dev_claims["jti"])
    for claims, provider in ((kc_claims, kc), (dev_claims, dev)):
        assert urllib.parse.urlsplit(claims["iss"]).path == \
            urllib.parse.urlsplit(provider.issuer).path
        uuid.UUID(claims["sub"])
    if "aud_x" in kc_claims:
        assert set(kc_claims["aud_x"]) == set(dev_claims["aud_x"])


def _assert_same_response(kc_resp: httpx.Response, dev_resp: httpx.Response) -> None:
    assert (kc_resp.status_code, dev_resp.status_code) == (200, 200)
    for name in ("content-type", "cache-control", "pragma"):
        assert kc_resp.headers.get(name) == dev_resp.headers.get(name), name
    kc_body, dev_body = kc_resp.json(), dev_resp.json()
    assert _shape(kc_body) == _shape(dev_body)
    assert {k: v for k, v in kc_body.items() if k not in RESPONSE_BY_NATURE} == \
        {k: v for k, v in dev_body.items() if k not in RESPONSE_BY_NATURE}
    assert set(kc_body["scope"].split()) == set(dev_body["scope"].split())
    for body in (kc_body, dev_body):
        claims = claims_of(body["access_token"])
        # expires_in = exp - now when the answer is written: the lifespan, or one less when
        # a second boundary passed while the request was served.
        assert body["expires_in"] in (claims["exp"] - claims["iat"],
                                      claims["exp"] - claims["iat"] - 1)
        if "refresh_token" in body:
            refresh = claims_of(body["refresh_token"])
            assert body["refresh_expires_in"] in (refresh["exp"] - refresh["iat"],
                                                  refresh["exp"] - refresh["iat"] - 1)
    assert ("refresh_expires_in" in kc_body) == ("refresh_expires_in" in dev_body)
    if "refresh_token" in kc_body:
        # The same lifespan on both, the realm's session idle time, counted by Keycloak from
        # the session's start: one second less when a second boundary passed in between.
        kc_refresh, dev_refresh = (claims_of(b["refresh_token"]) for b in (kc_body, dev_body))
        kc_life = kc_refresh["exp"] - kc_refresh["iat"]
        dev_life = dev_refresh["exp"] - dev_refresh["iat"]
        assert kc_life in (dev_life, dev_life - 1), (kc_life, dev_life)
        if "session_state" in body:
            assert body["session_state"] == claims["sid"]


def _kids(provider: Provider) -> set[str]:
    return {k["kid"] for k in httpx.get(provider.jwks_uri, timeout=10.0).json()["keys"]}


def _service_request(provider: Provider, env: dict[str, str], client_id: str) -> httpx.Response:
    if client_id == "inventory-sync":
        return httpx.post(provider.token_endpoint,
                          data=jwt_form(inventory_assertion(provider.issuer)), timeout=30.0)
    return httpx.post(provider.token_endpoint, data={"grant_type": "client_credentials"},
                      auth=(client_id, env[SECRET_VARS[client_id]]), timeout=30.0)


@pytest.mark.parametrize("client_id", SERVICE_CLIENTS)
def test_service_client_token_matches_keycloak(
        providers: tuple[Provider, Provider], keycloak_env: dict[str, str],
        client_id: str) -> None:
    kc, dev = providers
    kc_resp = _service_request(kc, keycloak_env, client_id)
    dev_resp = _service_request(dev, keycloak_env, client_id)
    _assert_same_response(kc_resp, dev_resp)
    _assert_same_token(kc_resp.json()["access_token"], dev_resp.json()["access_token"],
                       kc, dev, _kids(kc), _kids(dev))


def test_audience_mappers_put_receivers_in_aud(
        providers: tuple[Provider, Provider], keycloak_env: dict[str, str]) -> None:
    for provider in providers:
        reporting = claims_of(_service_request(provider, keycloak_env,
                                               "reporting-job").json()["access_token"])
        assert (provider.name, sorted(reporting["aud"])) == \
            (provider.name, ["account", "notification-service"])
        assert "notification-service" not in reporting["resource_access"]


def _alice(provider: Provider, env: dict[str, str]) -> httpx.Response:
    """alice logs in at storefront (code + PKCE; it has no password grant)."""
    return login_response(provider.token_endpoint.removesuffix("/protocol/openid-connect/token"),
                          "alice", env["ALICE_PASSWORD"],
                          client_secret=env["STOREFRONT_CLIENT_SECRET"], nonce="n-alice")


def test_alice_code_flow_tokens_match_keycloak(
        providers: tuple[Provider, Provider], keycloak_env: dict[str, str]) -> None:
    kc, dev = providers
    kc_resp, dev_resp = _alice(kc, keycloak_env), _alice(dev, keycloak_env)
    _assert_same_response(kc_resp, dev_resp)
    kc_body, dev_body = kc_resp.json(), dev_resp.json()
    kc_keys, dev_keys = _kids(kc), _kids(dev)
    _assert_same_token(kc_body["access_token"], dev_body["access_token"], kc, dev,
                       kc_keys, dev_keys)
    for body in (kc_body, dev_body):  # storefront's audience mapper adds shop-api
        assert set(claims_of(body["access_token"])["aud"]) == {
            "account", "notification-service", "payment-service", "shop-api"}
    _assert_same_token(kc_body["id_token"], dev_body["id_token"], kc, dev, kc_keys, dev_keys)
    _assert_same_token(kc_body["refresh_token"], dev_body["refresh_token"], kc, dev,
                       kc_keys, dev_keys, hmac=True)


# -- error answers -----------------------------------------------------------------------
Request = Callable[[Provider, dict[str, str]], dict[str, Any]]
"""Builds httpx.post keyword arguments for a provider (data, auth)."""


def _secret(client_id: str, secret: str | None = None, **form: str) -> Request:
    def build(p: Provider, env: dict[str, str]) -> dict[str, Any]:
        value = secret if secret is not None else env[SECRET_VARS[client_id]]
        return {"data": {"grant_type": "client_credentials", **form}, "auth": (client_id, value)}
    return build


def _form(**form: str) -> Request:
    return lambda p, env: {"data": dict(form)}


def _assertion(**kw: Any) -> Request:
    """inventory-sync's assertion for the provider's issuer; ``aud=...`` and claims override;
    ``ahead=N``: ``iat`` N seconds in the future (``exp`` 30 s after it) when the request is
    built, not when this module is collected."""
    extra = kw.pop("form", {})

    def build(p: Provider, env: dict[str, str]) -> dict[str, Any]:
        args = dict(kw)
        if "ahead" in args:
            now = int(time.time())
            args["iat"] = now + args.pop("ahead")
            args["exp"] = args["iat"] + 30
        aud = args.pop("aud", p.issuer)
        if aud == "BOTH":
            aud = [p.issuer, p.token_endpoint]
        elif aud == "OTHER_REALM":
            aud = p.issuer.replace("/realms/techstore", "/realms/master")
        return {"data": jwt_form(inventory_assertion(aud, **args), **extra)}
    return build


def _raw_assertion(value: str) -> Request:
    return lambda p, env: {"data": {
        "grant_type": "client_credentials", "client_id": "inventory-sync",
        "client_assertion_type": JWT_BEARER, "client_assertion": value}}


_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

ERROR_CASES: dict[str, Request] = {
    "wrong secret": _secret("shop-api", "not-the-secret"),
    "unknown client": lambda p, env: {"data": {"grant_type": "client_credentials"},
                                      "auth": ("nobody", "whatever")},
    "no client authentication": _form(grant_type="client_credentials"),
    "storefront without its secret": _form(grant_type="client_credentials",
                                           client_id="storefront"),
    "service accounts off": _secret("notification-service"),
    "password grant without direct grants": lambda p, env: {
        "data": {"grant_type": "password", "username": "alice",
                 "password": env["ALICE_PASSWORD"]},
        "auth": ("shop-api", env[SECRET_VARS["shop-api"]])},
    "storefront password grant (direct grants off)": lambda p, env: {
        "data": {"grant_type": "password", "username": "alice",
                 "password": env["ALICE_PASSWORD"]},
        "auth": ("storefront", env["STOREFRONT_CLIENT_SECRET"])},
    "unknown scope": _secret("shop-api", scope="nonexistent"),
    "missing grant_type": lambda p, env: {
        "data": {"scope": "profile"}, "auth": ("shop-api", env[SECRET_VARS["shop-api"]])},
    "unsupported grant": _secret("shop-api", grant_type="foo"),
    "assertion exp in the past": _assertion(lifetime=-120),
    "assertion iat in the future": _assertion(ahead=300),
    "assertion signed by another key": _assertion(key=_OTHER_KEY),
    "assertion aud another realm": _assertion(aud="OTHER_REALM"),
    "assertion aud two values": _assertion(aud="BOTH"),
    "assertion without jti": _assertion(drop=("jti",)),
    "assertion without exp": _assertion(drop=("exp",)),
    "assertion without iat, exp an hour ahead": _assertion(drop=("iat",), lifetime=3600),
    "assertion of shop-api for form client inventory-sync": _assertion(iss="shop-api",
                                                                       sub="shop-api"),
    "assertion type foo": lambda p, env: {"data": {
        "grant_type": "client_credentials", "client_id": "inventory-sync",
        "client_assertion_type": "foo", "client_assertion": inventory_assertion(p.issuer)}},
    "assertion not a jwt": lambda p, env: {"data": {
        "grant_type": "client_credentials", "client_id": "inventory-sync",
        "client_assertion_type": JWT_BEARER, "client_assertion": "not.a.jwt"}},
    "assertion type foo, assertion x.y.z": lambda p, env: {"data": {
        "grant_type": "client_credentials", "client_id": "inventory-sync",
        "client_assertion_type": "foo", "client_assertion": "x.y.z"}},
    "assertion one part": _raw_assertion("abc"),
    "assertion four parts": _raw_assertion("abcd.abcd.abcd.abcd"),
    "assertion payload 5 chars": _raw_assertion("abcd.abcde.abcd"),
    "assertion payload illegal char": _raw_assertion("abcd.ab*d.abcd"),
    "assertion without type": lambda p, env: {"data": {
        "grant_type": "client_credentials", "client_id": "inventory-sync",
        "client_assertion": inventory_assertion(p.issuer)}},
    "secret for a private_key_jwt client": _form(grant_type="client_credentials",
                                                 client_id="inventory-sync",
                                                 client_secret="whatever"),
}


PREFIX_ONLY_CASES: dict[str, Request] = {
    "assertion header not json": _raw_assertion("abcd.e30.abcd"),
    "assertion claims not json": lambda p, env: {"data": jwt_form(
        inventory_assertion(p.issuer).split(".")[0] + ".abcd.abcd")},
}
"""Keycloak reports Jackson's parser message (bytes, columns) here, which the dev IdP does not
reproduce: status, error and the description's prefix are compared."""
_JWT_FAILED = "Client authentication with signed JWT failed: "


@pytest.mark.parametrize("case", list(PREFIX_ONLY_CASES))
def test_unparseable_assertion_answer_matches_keycloak_but_for_parser_text(
        providers: tuple[Provider, Provider], keycloak_env: dict[str, str], case: str) -> None:
    answers = [_answer(p, keycloak_env, PREFIX_ONLY_CASES[case]) for p in providers]
    for status, body in answers:
        assert (status, body["error"]) == (400, "invalid_client")
        assert body["error_description"].startswith(_JWT_FAILED)


def _answer(provider: Provider, env: dict[str, str], request: Request) -> tuple[int, Any]:
    response = httpx.post(provider.token_endpoint, timeout=30.0, **request(provider, env))
    assert response.headers["content-type"].startswith("application/json")
    assert "www-authenticate" not in response.headers
    return response.status_code, response.json()


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_answer_matches_keycloak(providers: tuple[Provider, Provider],
                                       keycloak_env: dict[str, str], case: str) -> None:
    kc, dev = providers
    kc_answer = _answer(kc, keycloak_env, ERROR_CASES[case])
    assert kc_answer[0] in (400, 401), kc_answer
    assert _answer(dev, keycloak_env, ERROR_CASES[case]) == kc_answer


def test_replayed_assertion_jti_refused_like_keycloak(
        providers: tuple[Provider, Provider]) -> None:
    answers = []
    for provider in providers:
        form = jwt_form(inventory_assertion(provider.issuer))
        first = httpx.post(provider.token_endpoint, data=form, timeout=30.0)
        second = httpx.post(provider.token_endpoint, data=form, timeout=30.0)
        answers.append((first.status_code, second.status_code, second.json()))
    assert answers[0] == answers[1] == (
        200, 400, {"error": "invalid_client", "error_description": "Token reuse detected"})


_TOO_OLD = (400, "invalid_client", "Token was issued too far in the past to be used now")
# exp - now, iat - now, the answer of both: no cap on exp - iat when iat is present, but an
# iat older than 60 s (the default max assertion lifetime) is refused.
LIFETIME_CASES = [(600, 0, (200, None, None)), (3600, 0, (200, None, None)),
                  (600, -120, _TOO_OLD), (30, -90, _TOO_OLD)]


@pytest.mark.parametrize(("lifetime", "iat_offset", "expected"), LIFETIME_CASES,
                         ids=[f"exp+{row[0]}-iat{row[1]}" for row in LIFETIME_CASES])
def test_assertion_lifetime_rules_match_keycloak(
        providers: tuple[Provider, Provider], lifetime: int, iat_offset: int,
        expected: tuple[int, str | None, str | None]) -> None:
    answers = []
    for provider in providers:
        now = int(time.time())
        form = jwt_form(inventory_assertion(provider.issuer, iat=now + iat_offset,
                                            exp=now + lifetime))
        response = httpx.post(provider.token_endpoint, data=form, timeout=30.0)
        body = response.json()
        answers.append((response.status_code, body.get("error"), body.get("error_description")))
    assert answers[0] == answers[1] == expected


# -- discovery ---------------------------------------------------------------------------
def test_discovery_keys_svcauth_uses_match_keycloak(
        providers: tuple[Provider, Provider]) -> None:
    docs = [httpx.get(f"{p.issuer}/.well-known/openid-configuration", timeout=10.0).json()
            for p in providers]
    for name in DISCOVERY_URLS:
        paths = [urllib.parse.urlsplit(doc[name]).path for doc in docs]
        assert paths[0] == paths[1], name
    for name in DISCOVERY_SETS:
        assert set(docs[0][name]) == set(docs[1][name]), name
    for doc, provider in zip(docs, providers, strict=True):
        assert doc["issuer"] == provider.issuer
        assert re.fullmatch(r"https?://[^/]+/realms/techstore", doc["issuer"])


def test_by_nature_lists_only_claims_keycloak_sends(
        providers: tuple[Provider, Provider], keycloak_env: dict[str, str]) -> None:
    kc, _ = providers
    body = _alice(kc, keycloak_env).json()
    seen = set().union(*(claims_of(body[t]) for t in ("access_token", "id_token",
                                                      "refresh_token")))
    assert set(BY_NATURE) <= seen
