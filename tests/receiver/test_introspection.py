"""IntrospectionVerifier behind httpx.MockTransport: client authentication, positive answers
cached until min(exp, ttl), negative answers never cached, refusal codes."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from receiver_support import AUDIENCE, ISSUER, NOW, Clock, Realm, service_claims

from svcauth._errors import InvalidTokenError, KeySetUnavailableError
from svcauth.receiver import IntrospectionVerifier, StaticKeySet, Verifier

ENDPOINT = ISSUER + "/protocol/openid-connect/token/introspect"


class Provider:
    def __init__(self) -> None:
        self.answer: dict[str, Any] = {"active": True, **service_claims()}
        self.status = 200
        self.seen: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(self.status, json=self.answer)


def _setup(**options: Any) -> tuple[Provider, IntrospectionVerifier, Clock]:
    provider = Provider()
    clock = Clock()
    verifier = IntrospectionVerifier(
        ENDPOINT, issuer=ISSUER, audience=AUDIENCE, client_id="notification-service",
        client_secret="s3cr:et+", clock=clock,
        http_client=httpx.Client(transport=httpx.MockTransport(provider.handler)), **options)
    return provider, verifier, clock


def test_active_token_is_accepted_with_basic_client_auth() -> None:
    provider, verifier, _ = _setup()
    claims = verifier.verify("opaque-or-jwt")
    assert claims.azp == "inventory-sync"
    request = provider.seen[0]
    user, _, password = base64.b64decode(request.headers["Authorization"][6:]).decode().partition(":")
    assert (user, password) == ("notification-service", "s3cr%3Aet%2B")
    assert parse_qs(request.content.decode()) == {"token": ["opaque-or-jwt"],
                                                  "token_type_hint": ["access_token"]}


def test_positive_answer_is_cached_until_ttl() -> None:
    provider, verifier, clock = _setup(ttl=30)
    verifier.verify("t")
    clock.advance(29)
    verifier.verify("t")
    assert len(provider.seen) == 1
    clock.advance(1)
    verifier.verify("t")
    assert len(provider.seen) == 2


def test_positive_answer_is_cached_no_later_than_exp() -> None:
    provider, verifier, clock = _setup(ttl=300)
    provider.answer["exp"] = int(NOW) + 10
    verifier.verify("t")
    clock.advance(10)
    verifier.verify("t")
    assert len(provider.seen) == 2


def test_inactive_answer_is_refused_and_never_cached() -> None:
    provider, verifier, _ = _setup()
    provider.answer = {"active": False}
    for _ in range(2):
        with pytest.raises(InvalidTokenError) as info:
            verifier.verify("t")
        assert info.value.code == "token_inactive"
    assert len(provider.seen) == 2


ANSWERS: list[tuple[str, dict[str, Any], str]] = [
    ("active as a string", {"active": "true"}, "token_inactive"),
    ("another issuer", {"iss": ISSUER + "x"}, "issuer_mismatch"),
    ("another audience", {"aud": "shop-api"}, "audience_mismatch"),
    ("an ID token", {"typ": "ID"}, "token_type_invalid"),
    ("expired", {"exp": int(NOW) - 60}, "token_expired"),
]


@pytest.mark.parametrize(("name", "change", "code"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_active_answers_are_still_checked(name: str, change: dict[str, Any], code: str) -> None:
    provider, verifier, _ = _setup()
    provider.answer.update(change)
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify("t")
    assert info.value.code == code


def test_failing_endpoint_is_unavailable() -> None:
    provider, verifier, _ = _setup()
    provider.status = 500
    with pytest.raises(KeySetUnavailableError) as info:
        verifier.verify("t")
    assert info.value.code == "introspection_unavailable"


def test_local_verification_runs_first_and_forgeries_never_reach_the_provider() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    local = Verifier(issuer=ISSUER, audience=AUDIENCE, cache=None, clock=Clock(),
                     key_set=StaticKeySet(realm.jwks(), issuer=ISSUER))
    provider, verifier, _ = _setup(local=local)
    forged = Realm()
    forged.add_key("RS256", kid="k1")
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(forged.token())
    assert info.value.code == "signature_invalid" and provider.seen == []
    claims = verifier.verify(realm.token())
    assert claims.kid == "k1" and len(provider.seen) == 1


@pytest.mark.anyio
async def test_async_introspection() -> None:
    provider = Provider()
    verifier = IntrospectionVerifier(
        ENDPOINT, issuer=ISSUER, audience=AUDIENCE, client_id="c", client_secret="s",
        clock=Clock(), async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(provider.handler)))
    assert (await verifier.averify("t")).client_id == "inventory-sync"
    assert (await verifier.averify("t")).client_id == "inventory-sync"
    assert len(provider.seen) == 1


@pytest.mark.parametrize(("profile", "typ", "code"), [
    ("keycloak", None, "token_type_invalid"),  # Keycloak's answers carry typ Bearer
    ("keycloak", "Bearer", None),
    ("rfc9068", None, None),                   # no typ claim in RFC 9068 answers
    ("rfc9068", "ID", None),                   # not a claim this profile reads
])
def test_the_profile_decides_the_typ_rule_of_active_answers(profile: str, typ: str | None,
                                                             code: str | None) -> None:
    provider, verifier, _ = _setup(profile=profile)
    provider.answer.pop("typ", None)
    if typ is not None:
        provider.answer["typ"] = typ
    if code is None:
        assert verifier.verify("t")["iss"] == ISSUER
    else:
        with pytest.raises(InvalidTokenError) as info:
            verifier.verify("t")
        assert info.value.code == code
