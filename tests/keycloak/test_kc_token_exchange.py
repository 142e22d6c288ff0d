"""Standard token exchange (RFC 8693) against a real Keycloak 26.7.3, side by side with the
embedded provider: shop-api exchanges alice's storefront token for a payment-service token,
svcauth's receiver verifies it with OnBehalfOfPolicy, and every refusal gets Keycloak's
exact answer from both providers.

The realm is the repository's realm file (shop-api has "Standard token exchange" on); two
test-only clients (tests/exchange_cases.py) are added through the Admin API for the public
client and refresh-token rules, and removed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_kc_conformance import Provider, _assert_same_response, _assert_same_token, _kids

from exchange_cases import (
    ACCESS,
    ID,
    REFRESH,
    REFUSALS,
    TOKEN_EXCHANGE,
    Case,
    Subjects,
    extra_clients,
    realm_with_test_clients,
    send,
    subjects,
)
from kc_admin import KeycloakAdmin
from keycloak_support import REALM_FILE, claims_of
from mockmart.system.code_login import login_tokens
from svcauth import TokenEndpointError
from svcauth.caller import ClientConfig, ClientCredentialsSource, ClientSecretBasic, TokenExchanger
from svcauth.devidp import DevIdP
from svcauth.devidp._realm import realm_from_dict
from svcauth.keycloak import KeycloakEndpoints
from svcauth.receiver import OnBehalfOfPolicy, RemoteKeySet, Verifier

pytestmark = pytest.mark.keycloak


@pytest.fixture(scope="module")
def exchange_providers(keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]
                       ) -> Iterator[tuple[Provider, Provider]]:
    """(Keycloak, dev IdP), both with the realm file plus the two test clients."""
    admin = KeycloakAdmin(keycloak)
    created = []
    try:
        for rep in extra_clients():
            response = admin.request("POST", f"/{keycloak.realm}/clients", rep)
            assert response.status_code == 201, f"create {rep['clientId']}: HTTP {response.status_code}"
            created.append(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        realm = realm_from_dict(realm_with_test_clients(REALM_FILE), keycloak_env)
        with DevIdP(realm) as idp:
            yield (Provider("keycloak", keycloak.issuer, keycloak.token_endpoint, keycloak.jwks_uri),
                   Provider("devidp", idp.issuer, idp.token_endpoint, idp.jwks_uri))
    finally:
        for client_uuid in created:
            admin.request("DELETE", f"/{keycloak.realm}/clients/{client_uuid}")
        admin.close()


@pytest.fixture(scope="module")
def exchange_subjects(exchange_providers: tuple[Provider, Provider],
                      keycloak_env: dict[str, str]) -> tuple[Subjects, Subjects]:
    return (subjects(exchange_providers[0].token_endpoint, keycloak_env),
            subjects(exchange_providers[1].token_endpoint, keycloak_env))


@pytest.mark.parametrize("name", list(REFUSALS))
def test_token_exchange_refusal_is_keycloaks_on_both(
        exchange_providers: tuple[Provider, Provider], exchange_subjects: tuple[Subjects, Subjects],
        keycloak_env: dict[str, str], name: str) -> None:
    case = REFUSALS[name]
    expected = (case.status, {"error": case.error, "error_description": case.description})
    for provider, tokens in zip(exchange_providers, exchange_subjects, strict=True):
        response = send(provider.token_endpoint, keycloak_env, case, tokens)
        assert (provider.name, response.status_code, response.json()) == (provider.name, *expected)


def _case(subject: str, client: str = "shop-api", **form: str) -> Case:
    return Case(lambda s: {"grant_type": TOKEN_EXCHANGE, "subject_token": getattr(s, subject),
                           "subject_token_type": ACCESS, **form}, client=client)


SUCCESSES: dict[str, Case] = {
    "alice for shop-api": _case("alice"),
    "alice for payment-service": _case("alice", audience="payment-service"),
    "alice, scope openid (an ID token too)": _case("alice", scope="openid"),
    "alice as an ID token": _case("alice", requested_token_type=ID),
    "shop-api's own service token": _case("shop_service"),
    "refresh token allowed for exchange-refresh": _case(
        "alice_at_refresh_client", client="exchange-refresh", requested_token_type=REFRESH),
}


@pytest.mark.parametrize("name", list(SUCCESSES))
def test_token_exchange_answer_matches_keycloak(
        exchange_providers: tuple[Provider, Provider], exchange_subjects: tuple[Subjects, Subjects],
        keycloak_env: dict[str, str], name: str) -> None:
    kc, dev = exchange_providers
    kc_resp, dev_resp = (send(p.token_endpoint, keycloak_env, SUCCESSES[name], s)
                         for p, s in zip(exchange_providers, exchange_subjects, strict=True))
    _assert_same_response(kc_resp, dev_resp)
    kc_body, dev_body = kc_resp.json(), dev_resp.json()
    kc_keys, dev_keys = _kids(kc), _kids(dev)
    _assert_same_token(kc_body["access_token"], dev_body["access_token"], kc, dev, kc_keys, dev_keys)
    for kind, hmac in (("id_token", False), ("refresh_token", True)):
        assert (kind in kc_body) == (kind in dev_body), kind
        if kind in kc_body:
            _assert_same_token(kc_body[kind], dev_body[kind], kc, dev, kc_keys, dev_keys, hmac=hmac)


def test_token_exchange_two_audiences_keep_exactly_those(
        exchange_providers: tuple[Provider, Provider], exchange_subjects: tuple[Subjects, Subjects],
        keycloak_env: dict[str, str]) -> None:
    case = Case(lambda s: {"grant_type": TOKEN_EXCHANGE, "subject_token": s.alice,
                           "subject_token_type": ACCESS,
                           "audience": ["payment-service", "notification-service"]})
    for provider, tokens in zip(exchange_providers, exchange_subjects, strict=True):
        claims = claims_of(send(provider.token_endpoint, keycloak_env, case, tokens).json()["access_token"])
        assert (provider.name, sorted(claims["aud"]), sorted(claims["resource_access"])) == (
            provider.name, ["notification-service", "payment-service"],
            ["notification-service", "payment-service"])


def test_token_exchange_scope_adds_only_the_clients_optional_scopes_on_keycloak(
        exchange_providers: tuple[Provider, Provider], exchange_subjects: tuple[Subjects, Subjects],
        keycloak_env: dict[str, str]) -> None:
    """shop-api has no optional client scopes, so Keycloak refuses ``phone``; the embedded
    provider grants Keycloak's built-in optional scopes to every client (docs/token-exchange.md)."""
    response = send(exchange_providers[0].token_endpoint, keycloak_env,
                    _case("alice", scope="phone"), exchange_subjects[0])
    assert (response.status_code, response.json()) == (
        400, {"error": "invalid_scope", "error_description": "Invalid scopes: phone"})


# -- the caller and the receiver against Keycloak, the realm as shipped -------------------

def _exchanger(keycloak: KeycloakEndpoints, env: dict[str, str]) -> TokenExchanger:
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(env["SHOP_API_CLIENT_SECRET"]),
                          token_endpoint=keycloak.token_endpoint, timeout=30.0, deadline=60.0)
    return TokenExchanger(ClientCredentialsSource(config))


def _alice_token(keycloak: KeycloakEndpoints, env: dict[str, str]) -> str:
    token: str = login_tokens(keycloak.issuer, "alice", env["ALICE_PASSWORD"],
                              client_secret=env["STOREFRONT_CLIENT_SECRET"])["access_token"]
    return token


def test_token_exchange_alice_for_payment_service_verified_on_behalf_of(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    alice = _alice_token(keycloak, keycloak_env)
    assert "shop-api" in claims_of(alice)["aud"]  # storefront's audience mapper
    exchanger = _exchanger(keycloak, keycloak_env)
    token = exchanger.exchange(alice, audience="payment-service")
    assert exchanger.exchange(alice, audience="payment-service") == token  # cached
    cached = exchanger.source(alice, "payment-service").cached()
    assert cached is not None and cached.raw["issued_token_type"] == ACCESS
    verifier = Verifier(issuer=keycloak.issuer, audience="payment-service",
                        key_set=RemoteKeySet(keycloak.jwks_uri, issuer=keycloak.issuer))
    who = OnBehalfOfPolicy(allowed_clients={"shop-api"},
                           required_roles={"payment-service:payments:charge"}).authorize(
        verifier.verify(token))
    assert (who.user, who.username, who.client_id) == (claims_of(alice)["sub"], "alice", "shop-api")
    assert claims_of(token)["aud"] == "payment-service"
    assert {r for r in who.roles if not r.startswith("realm:")} == {"payment-service:payments:charge"}
    # alice's own storefront token is not an on-behalf-of token
    with pytest.raises(Exception) as info:
        OnBehalfOfPolicy(allowed_clients={"shop-api"}).authorize(
            Verifier(issuer=keycloak.issuer, audience="shop-api",
                     key_set=RemoteKeySet(keycloak.jwks_uri, issuer=keycloak.issuer)).verify(alice))
    assert getattr(info.value, "code", None) == "unauthorized_service"


def test_token_exchange_refused_by_keycloak_raises_its_error_through_the_caller(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    alice = _alice_token(keycloak, keycloak_env)
    with pytest.raises(TokenEndpointError) as info:
        _exchanger(keycloak, keycloak_env).exchange(alice, audience="inventory-sync")
    assert (info.value.status, info.value.error, info.value.error_description) == (
        400, "invalid_request", "Requested audience not available: inventory-sync")
