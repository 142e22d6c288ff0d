"""The whole flow on a real Keycloak: svcauth's caller obtains tokens by each client
authentication method, and svcauth's verifier with notification-service's ServicePolicy accepts
shop-api and refuses everyone else with an exact code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from keycloak_support import INVENTORY_KEY, REALM_FILE, SECRET_VARS, claims_of, header_of
from mockmart.system.code_login import login_tokens
from svcauth._errors import ForbiddenError, InvalidTokenError
from svcauth.caller import (
    ClientAuth,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJWT,
)
from svcauth.keycloak import KeycloakEndpoints
from svcauth.receiver import RemoteKeySet, ServicePolicy, Verifier

pytestmark = pytest.mark.keycloak

RECEIVER = "notification-service"
SEND_POLICY = ServicePolicy(allowed_clients={"shop-api"},
                            required_roles={"notification-service:notifications:send"})


def _has_audience_mapper(client_id: str, audience: str) -> bool:
    """True when the realm file gives ``client_id``'s tokens ``audience`` through an
    ``oidc-audience-mapper`` (the realm file decides what Keycloak must answer)."""
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    (client,) = [c for c in realm["clients"] if c["clientId"] == client_id]
    return any(m.get("protocolMapper") == "oidc-audience-mapper"
               and m.get("config", {}).get("included.client.audience") == audience
               for m in client.get("protocolMappers", []))


def _auth(method: str, client_id: str, env: dict[str, str]) -> ClientAuth:
    if method == "private_key_jwt":
        return PrivateKeyJWT(INVENTORY_KEY)
    secret = env[SECRET_VARS[client_id]]
    return ClientSecretBasic(secret) if method == "client_secret_basic" else ClientSecretPost(secret)


def _config(how: str, client_id: str, auth: ClientAuth, kc: KeycloakEndpoints) -> ClientConfig:
    if how == "keycloak_url":
        return ClientConfig(client_id=client_id, auth=auth, keycloak_url=kc.base_url,
                            realm=kc.realm)
    return ClientConfig(client_id=client_id, auth=auth, issuer=kc.issuer)


def _fetch(kc: KeycloakEndpoints, env: dict[str, str], client_id: str,
           method: str = "client_secret_basic", how: str = "issuer") -> str:
    source = ClientCredentialsSource(_config(how, client_id, _auth(method, client_id, env), kc))
    try:
        return source.fetch().access_token
    finally:
        source.close()


@pytest.fixture(scope="module")
def verifier(keycloak: KeycloakEndpoints) -> Iterator[Verifier]:
    """notification-service's verifier, keys through discovery."""
    keys = RemoteKeySet.from_discovery(keycloak.issuer)
    yield Verifier(issuer=keycloak.issuer, audience=RECEIVER, key_set=keys)


def _alice(kc: KeycloakEndpoints, env: dict[str, str]) -> dict[str, Any]:
    # storefront has no password grant: alice logs in with code + PKCE
    return login_tokens(kc.issuer, "alice", env["ALICE_PASSWORD"],
                        client_secret=env["STOREFRONT_CLIENT_SECRET"])


CALLERS = [
    ("shop-api", "client_secret_basic"),
    ("shop-api", "client_secret_post"),
    ("inventory-sync", "private_key_jwt"),
]


@pytest.mark.parametrize("how", ["keycloak_url", "issuer"])
@pytest.mark.parametrize(("client_id", "method"), CALLERS, ids=[m for _, m in CALLERS])
def test_caller_obtains_a_service_account_token_by_each_client_authentication(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], verifier: Verifier,
        client_id: str, method: str, how: str) -> None:
    token = _fetch(keycloak, keycloak_env, client_id, method, how)
    claims = verifier.verify(token)
    assert claims["azp"] == client_id
    assert claims["client_id"] == client_id
    assert claims["iss"] == keycloak.issuer
    assert header_of(token)["alg"] == "RS256"


def test_resolved_config_names_the_realm_token_endpoint(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    auth = ClientSecretBasic(keycloak_env[SECRET_VARS["shop-api"]])
    by_realm = _config("keycloak_url", "shop-api", auth, keycloak).resolved()
    by_issuer = _config("issuer", "shop-api", auth, keycloak).resolved()
    assert by_realm.token_endpoint == keycloak.token_endpoint
    assert by_issuer.token_endpoint == keycloak.token_endpoint


def test_policy_admits_shop_api_at_notification_service(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], verifier: Verifier) -> None:
    identity = SEND_POLICY.authorize(verifier.verify(_fetch(keycloak, keycloak_env, "shop-api")))
    assert identity.client_id == "shop-api"
    assert "notification-service:notifications:send" in identity.roles
    assert identity.subject != "shop-api"  # Keycloak: the service-account user's id


def test_reporting_job_is_refused_as_the_realm_file_implies(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], verifier: Verifier) -> None:
    token = _fetch(keycloak, keycloak_env, "reporting-job")
    if _has_audience_mapper("reporting-job", RECEIVER):
        claims = verifier.verify(token)
        with pytest.raises(ForbiddenError) as refused:
            SEND_POLICY.authorize(claims)
        assert refused.value.code == "unauthorized_service"
    else:
        with pytest.raises(InvalidTokenError) as invalid:
            verifier.verify(token)
        assert invalid.value.code == "audience_mismatch"


def test_other_service_without_the_role_is_refused_unauthorized(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], verifier: Verifier) -> None:
    """cart-reminder-job holds notifications:send but is not on the order allow-list."""
    claims = verifier.verify(_fetch(keycloak, keycloak_env, "cart-reminder-job"))
    with pytest.raises(ForbiddenError) as refused:
        SEND_POLICY.authorize(claims)
    assert refused.value.code == "unauthorized_service"


def test_alice_user_token_is_refused_as_not_a_service_account(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], verifier: Verifier) -> None:
    claims = verifier.verify(_alice(keycloak, keycloak_env)["access_token"])
    assert claims["preferred_username"] == "alice"
    with pytest.raises(ForbiddenError) as refused:
        SEND_POLICY.authorize(claims)
    assert refused.value.code == "not_service_account"


def test_id_token_is_refused_by_audience_then_by_type(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], verifier: Verifier) -> None:
    """An ID token is for storefront: notification-service refuses it on ``aud``; a verifier
    for storefront itself refuses it on Keycloak's ``typ`` claim (``ID``, not ``Bearer``)."""
    id_token = _alice(keycloak, keycloak_env)["id_token"]
    assert claims_of(id_token)["typ"] == "ID"
    with pytest.raises(InvalidTokenError) as at_receiver:
        verifier.verify(id_token)
    assert at_receiver.value.code == "audience_mismatch"
    storefront = Verifier(issuer=keycloak.issuer, audience="storefront",
                          key_set=verifier.key_set, cache=None)
    with pytest.raises(InvalidTokenError) as at_storefront:
        storefront.verify(id_token)
    assert at_storefront.value.code == "token_type_invalid"


def test_refresh_token_is_refused_for_its_hmac_algorithm(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], verifier: Verifier) -> None:
    keys = verifier.key_set
    assert isinstance(keys, RemoteKeySet)
    refresh = _alice(keycloak, keycloak_env)["refresh_token"]
    assert header_of(refresh)["alg"] == "HS512"
    before = keys.fetch_count
    with pytest.raises(InvalidTokenError) as invalid:
        verifier.verify(refresh)
    assert invalid.value.code == "alg_not_allowed"
    assert keys.fetch_count == before  # refused from the header: no JWKS fetch for it
