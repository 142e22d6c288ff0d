"""The embedded provider's standard token exchange: every refusal with Keycloak 26.7.3's
exact answer (the rows of tests/exchange_cases.py), the exchanged token's layout, and the
caller's TokenExchanger + the receiver's OnBehalfOfPolicy end to end over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from devidp_support import REALM_FILE, claims_of

from exchange_cases import (
    ACCESS,
    ID,
    REFRESH,
    REFRESH_CLIENT_SECRET,
    REFUSALS,
    Case,
    Subjects,
    realm_with_test_clients,
    send,
    subjects,
)
from svcauth import TokenEndpointError
from svcauth.caller import ClientConfig, ClientCredentialsSource, ClientSecretBasic, TokenExchanger
from svcauth.devidp import DevIdP
from svcauth.devidp._realm import realm_from_dict
from svcauth.receiver import OnBehalfOfPolicy, StaticKeySet, Verifier


@pytest.fixture(scope="module")
def exchange_idp(dev_env: dict[str, str]) -> Iterator[DevIdP]:
    realm = realm_from_dict(realm_with_test_clients(REALM_FILE), dev_env)
    with DevIdP(realm) as provider:
        yield provider


@pytest.fixture(scope="module")
def tokens(exchange_idp: DevIdP, dev_env: dict[str, str]) -> Subjects:
    return subjects(exchange_idp.token_endpoint, dev_env)


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusal_answers_as_keycloak(exchange_idp: DevIdP, dev_env: dict[str, str],
                                     tokens: Subjects, name: str) -> None:
    case = REFUSALS[name]
    response = send(exchange_idp.token_endpoint, dev_env, case, tokens)
    assert (response.status_code, response.json()) == (
        case.status, {"error": case.error, "error_description": case.description})


def _exchange(idp: DevIdP, env: dict[str, str], tokens: Subjects, **form: object) -> dict[str, object]:
    subject = form.pop("subject", tokens.alice)
    client = str(form.pop("client", "shop-api"))
    case = Case(lambda s: {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                           "subject_token": subject, "subject_token_type": ACCESS, **form},
                client=client)
    response = send(idp.token_endpoint, env, case, tokens)
    assert response.status_code == 200, response.json()
    body: dict[str, object] = response.json()
    return body


def test_exchanged_token_names_alice_and_shop_api_narrowed_to_payment_service(
        exchange_idp: DevIdP, dev_env: dict[str, str], tokens: Subjects) -> None:
    body = _exchange(exchange_idp, dev_env, tokens, audience="payment-service")
    assert sorted(body) == ["access_token", "expires_in", "issued_token_type",
                            "not-before-policy", "refresh_expires_in", "scope",
                            "session_state", "token_type"]
    assert (body["token_type"], body["issued_token_type"], body["refresh_expires_in"]) == (
        "Bearer", ACCESS, 0)
    claims, subject = claims_of(str(body["access_token"])), claims_of(tokens.alice)
    assert (claims["sub"], claims["azp"], claims["aud"]) == (subject["sub"], "shop-api",
                                                             "payment-service")
    assert claims["resource_access"] == {"payment-service": {"roles": ["payments:charge"]}}
    assert claims["sid"] == subject["sid"] == body["session_state"]
    assert claims["jti"].startswith("ntrtte:")
    assert "client_id" not in claims and claims["preferred_username"] == "alice"


def test_without_audience_the_token_keeps_every_audience_of_shop_api_for_alice(
        exchange_idp: DevIdP, dev_env: dict[str, str], tokens: Subjects) -> None:
    claims = claims_of(str(_exchange(exchange_idp, dev_env, tokens)["access_token"]))
    # alice's roles' clients, and rabbitmq from shop-api's own audience mapper: the exchanged
    # token is shop-api's, built with shop-api's mappers.
    assert sorted(claims["aud"]) == ["account", "notification-service", "payment-service",
                                     "rabbitmq"]
    two = claims_of(str(_exchange(exchange_idp, dev_env, tokens,
                                  audience=["payment-service", "notification-service"])["access_token"]))
    assert sorted(two["aud"]) == ["notification-service", "payment-service"]
    assert sorted(two["resource_access"]) == ["notification-service", "payment-service"]


def test_service_account_subject_loses_the_client_credentials_claims(
        exchange_idp: DevIdP, dev_env: dict[str, str], tokens: Subjects) -> None:
    body = _exchange(exchange_idp, dev_env, tokens, subject=tokens.shop_service)
    claims = claims_of(str(body["access_token"]))
    assert "session_state" not in body and "sid" not in claims
    assert claims["jti"].startswith("trrtte:")
    assert not {"client_id", "clientHost", "clientAddress"} & set(claims)


def test_id_token_openid_and_allowed_refresh_token(
        exchange_idp: DevIdP, dev_env: dict[str, str], tokens: Subjects) -> None:
    as_id = _exchange(exchange_idp, dev_env, tokens, requested_token_type=ID)
    id_claims = claims_of(str(as_id["access_token"]))
    assert (as_id["token_type"], as_id["issued_token_type"]) == ("N_A", ID)
    assert (id_claims["typ"], id_claims["aud"], "at_hash" in id_claims) == ("ID", "shop-api", False)
    with_openid = _exchange(exchange_idp, dev_env, tokens, scope="openid")
    assert claims_of(str(with_openid["id_token"]))["at_hash"]
    refreshed = _exchange(exchange_idp, dev_env, tokens, client="exchange-refresh",
                          subject=tokens.alice_at_refresh_client, requested_token_type=REFRESH)
    assert (refreshed["issued_token_type"], refreshed["refresh_expires_in"]) == (REFRESH, 1800)
    assert claims_of(str(refreshed["access_token"]))["jti"].startswith("onrtte:")
    assert claims_of(str(refreshed["refresh_token"]))["typ"] == "Refresh"


def _exchanger(idp: DevIdP, env: dict[str, str]) -> TokenExchanger:
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(env["SHOP_API_CLIENT_SECRET"]),
                          token_endpoint=idp.token_endpoint)
    return TokenExchanger(ClientCredentialsSource(config))


def test_token_exchanger_and_on_behalf_of_policy_end_to_end(
        exchange_idp: DevIdP, dev_env: dict[str, str], tokens: Subjects) -> None:
    exchanger = _exchanger(exchange_idp, dev_env)
    before = exchange_idp.stats()["token_requests"]["shop-api"].get(
        "urn:ietf:params:oauth:grant-type:token-exchange", 0)
    token = exchanger.exchange(tokens.alice, audience="payment-service")
    assert all(exchanger.exchange(tokens.alice, audience="payment-service") == token
               for _ in range(100))
    after = exchange_idp.stats()["token_requests"]["shop-api"][
        "urn:ietf:params:oauth:grant-type:token-exchange"]
    assert after - before == 1
    verifier = Verifier(issuer=exchange_idp.issuer, audience="payment-service",
                        key_set=StaticKeySet(exchange_idp.jwks(), issuer=exchange_idp.issuer))
    who = OnBehalfOfPolicy(allowed_clients={"shop-api"},
                           required_roles={"payment-service:payments:charge"}).authorize(
        verifier.verify(token))
    assert (who.user, who.username, who.client_id) == (claims_of(tokens.alice)["sub"], "alice",
                                                       "shop-api")
    assert who.roles == frozenset({"payment-service:payments:charge", "realm:offline_access",
                                   "realm:uma_authorization", "realm:default-roles-techstore"})


def test_token_exchanger_raises_keycloaks_refusal(
        exchange_idp: DevIdP, dev_env: dict[str, str], tokens: Subjects) -> None:
    with pytest.raises(TokenEndpointError) as info:
        _exchanger(exchange_idp, dev_env).exchange(tokens.cart_service)
    assert (info.value.status, info.value.error, info.value.error_description) == (
        403, "access_denied", "Client is not within the token audience")
    assert REFRESH_CLIENT_SECRET not in str(info.value)


@pytest.mark.parametrize("bound", [True, False])
def test_an_exchange_with_a_dpop_proof_binds_the_token_to_that_key(
        exchange_idp: DevIdP, dev_env: dict[str, str], tokens: Subjects, bound: bool) -> None:
    # As Keycloak 26.7.3 (checked in tests/mockmart/test_mockmart_payment_dpop_token_exchange):
    # a proof on the exchange request binds the issued token; without one it stays Bearer.
    from svcauth.caller import DPoPKey

    key = DPoPKey.generate() if bound else None
    source = TokenExchanger(ClientCredentialsSource(ClientConfig(
        client_id="shop-api", auth=ClientSecretBasic(dev_env["SHOP_API_CLIENT_SECRET"]),
        token_endpoint=exchange_idp.token_endpoint, dpop=key))).source(
        tokens.alice, audience="payment-service")
    claims = claims_of(source.token())
    cached = source.cached()
    assert cached is not None
    if key is not None:
        assert (cached.token_type, claims["cnf"], claims["typ"]) == (
            "DPoP", {"jkt": key.jkt, "kc-jkt-type": "DPoP"}, "DPoP")
    else:
        assert (cached.token_type, "cnf" in claims, claims["typ"]) == ("Bearer", False, "Bearer")
    assert (claims["azp"], claims["aud"]) == ("shop-api", "payment-service")
