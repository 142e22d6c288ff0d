"""svcauth's caller and verifier against a standard OpenID Connect provider that is not
Keycloak (panva's oidc-provider): discovery, client_secret_basic and client_secret_post,
RFC 9068 JWT access tokens (header ``typ`` ``at+jwt``, no Keycloak ``typ`` claim, ``sub`` ==
``client_id``), the RFC 9068 service-account rule, and audience by resource indicator."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from oidc_support import OidcProvider

from svcauth._errors import ForbiddenError, InvalidTokenError, TokenEndpointError
from svcauth.caller import (
    ClientAuth,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    ClientSecretPost,
)
from svcauth.providers import RFC9068
from svcauth.receiver import RemoteKeySet, ServicePolicy, Verifier

RFC9068_POLICY = ServicePolicy(allowed_clients={"shop-api", "reporting-job"},
                               service_account_rule="rfc9068")


def _segment(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _fetch(provider: OidcProvider, client_id: str, auth: ClientAuth, **fields: object) -> str:
    source = ClientCredentialsSource(ClientConfig(client_id=client_id, auth=auth,
                                                  issuer=provider.issuer, **fields))
    try:
        return source.fetch().access_token
    finally:
        source.close()


def _auth(provider: OidcProvider, client_id: str) -> ClientAuth:
    secret = provider.secrets[client_id]
    return ClientSecretBasic(secret) if client_id == "shop-api" else ClientSecretPost(secret)


@pytest.fixture(scope="module")
def verifier(oidc_provider: OidcProvider) -> Iterator[Verifier]:
    keys = RemoteKeySet.from_discovery(oidc_provider.issuer)
    yield Verifier(issuer=oidc_provider.issuer, audience="notification-service", key_set=keys,
                   token_types=None)


@pytest.mark.parametrize(("client_id", "method"),
                         [("shop-api", "client_secret_basic"), ("reporting-job", "client_secret_post")])
def test_caller_obtains_an_rfc9068_token_that_verifies_and_passes_the_rfc9068_rule(
        oidc_provider: OidcProvider, verifier: Verifier, client_id: str, method: str) -> None:
    auth = _auth(oidc_provider, client_id)
    assert auth.method == method
    token = _fetch(oidc_provider, client_id, auth)
    header = _segment(token, 0)
    assert (header["typ"], header["alg"]) == ("at+jwt", "RS256")
    claims = verifier.verify(token)
    assert "typ" not in claims  # no Keycloak token-type claim: token_types=None is needed
    assert (claims["iss"], claims["aud"], claims["sub"], claims["client_id"]) == (
        oidc_provider.issuer, "notification-service", client_id, client_id)
    identity = RFC9068_POLICY.authorize(claims)
    assert (identity.client_id, identity.subject) == (client_id, client_id)


def test_the_keycloak_rule_refuses_a_non_keycloak_service_token(
        oidc_provider: OidcProvider, verifier: Verifier) -> None:
    """No ``azp`` in RFC 9068 tokens: the default (Keycloak) rule does not see a service account."""
    claims = verifier.verify(_fetch(oidc_provider, "shop-api", _auth(oidc_provider, "shop-api")))
    assert "azp" not in claims
    with pytest.raises(ForbiddenError) as refused:
        ServicePolicy(allowed_clients={"shop-api"}).authorize(claims)
    assert refused.value.code == "not_service_account"


def test_keycloak_token_type_check_refuses_tokens_without_the_typ_claim(
        oidc_provider: OidcProvider, verifier: Verifier) -> None:
    keycloak_style = Verifier(issuer=oidc_provider.issuer, audience="notification-service",
                              key_set=verifier.key_set, cache=None)
    token = _fetch(oidc_provider, "shop-api", _auth(oidc_provider, "shop-api"))
    with pytest.raises(InvalidTokenError) as invalid:
        keycloak_style.verify(token)
    assert invalid.value.code == "token_type_invalid"


def test_scope_asked_for_is_granted_and_required_scopes_are_enforced(
        oidc_provider: OidcProvider, verifier: Verifier) -> None:
    token = _fetch(oidc_provider, "shop-api", _auth(oidc_provider, "shop-api"),
                   scope="notifications:send")
    claims = verifier.verify(token)
    assert claims["scope"] == "notifications:send"
    needs_send = ServicePolicy(service_account_rule="rfc9068",
                               required_scopes={"notifications:send"})
    assert needs_send.authorize(claims).scopes == frozenset({"notifications:send"})
    needs_read = ServicePolicy(service_account_rule="rfc9068",
                               required_scopes={"notifications:read"})
    with pytest.raises(ForbiddenError) as refused:
        needs_read.authorize(claims)
    assert (refused.value.code, refused.value.required) == (
        "insufficient_scope", ("notifications:read",))


def test_token_for_another_resource_is_refused_by_audience(
        oidc_provider: OidcProvider, verifier: Verifier) -> None:
    token = _fetch(oidc_provider, "shop-api", _auth(oidc_provider, "shop-api"),
                   resource=oidc_provider.shop_resource)
    assert _segment(token, 1)["aud"] == "shop-api"
    with pytest.raises(InvalidTokenError) as invalid:
        verifier.verify(token)
    assert invalid.value.code == "audience_mismatch"


def test_unknown_resource_is_an_endpoint_error_with_the_provider_code(
        oidc_provider: OidcProvider) -> None:
    with pytest.raises(TokenEndpointError) as failed:
        _fetch(oidc_provider, "shop-api", _auth(oidc_provider, "shop-api"),
               resource="urn:svcauth:nowhere")
    assert failed.value.code == "invalid_target"


def test_wrong_secret_is_invalid_client(oidc_provider: OidcProvider) -> None:
    with pytest.raises(TokenEndpointError) as failed:
        _fetch(oidc_provider, "shop-api", ClientSecretBasic("not-the-secret"))
    assert failed.value.code == "invalid_client"


def test_provider_signs_with_its_own_key_only(oidc_provider: OidcProvider) -> None:
    jwks = httpx.get(f"{oidc_provider.issuer}/jwks", timeout=10).json()
    assert [(k["kty"], k["alg"], k["use"]) for k in jwks["keys"]] == [("RSA", "RS256", "sig")]
    assert all("d" not in k for k in jwks["keys"])  # only the public part is published


def test_an_rfc9068_token_passes_the_generic_profile_without_extra_options(
        oidc_provider: OidcProvider, verifier: Verifier) -> None:
    """svcauth.providers.RFC9068: no token_types, no service_account_rule, nothing else."""
    generic = Verifier(issuer=oidc_provider.issuer, audience="notification-service",
                       key_set=verifier.key_set, profile=RFC9068)
    token = _fetch(oidc_provider, "reporting-job", _auth(oidc_provider, "reporting-job"),
                   scope="notifications:send")
    claims = generic.verify(token)
    assert "azp" not in claims and "typ" not in claims
    identity = ServicePolicy(allowed_clients={"reporting-job"}, profile=RFC9068,
                             required_scopes={"notifications:send"}).authorize(claims)
    assert (identity.client_id, identity.subject, identity.scopes) == (
        "reporting-job", "reporting-job", frozenset({"notifications:send"}))
    with pytest.raises(ForbiddenError) as refused:  # the same policy, another client
        ServicePolicy(allowed_clients={"shop-api"}, profile=RFC9068).authorize(claims)
    assert refused.value.code == "unauthorized_service"
