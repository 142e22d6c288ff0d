"""What notification-service records about its caller, the demo's check of shop-api's
recorded claims, and how a private_key_jwt client (inventory-sync) gets its credential."""

from __future__ import annotations

from typing import Any

import pytest

from mockmart.config import REPO_ROOT, MockMartConfig, dev_key_file
from mockmart.security import counting_token_source
from mockmart.services.notification_service.caller_claims import RECORDED_CLAIMS, recorded_claims
from mockmart.system.demo_claims import shop_api_claim_problems
from svcauth.caller import ClientSecretBasic, PrivateKeyJWT

SHOP_API: dict[str, Any] = {
    "exp": 1300, "iat": 1000, "jti": "j-1", "iss": "http://idp/realms/techstore",
    "aud": ["notification-service", "account"], "sub": "3f0c-uuid", "typ": "Bearer",
    "azp": "shop-api", "scope": "email profile", "clientHost": "127.0.0.1",
    "clientAddress": "127.0.0.1", "email_verified": False, "client_id": "shop-api",
    "preferred_username": "service-account-shop-api",
    "realm_access": {"roles": ["offline_access", "uma_authorization"], "extra": "x"},
    "resource_access": {"notification-service": {"roles": ["notifications:send"]}},
}


def test_recorded_claims_keep_the_identity_claims_and_nothing_else() -> None:
    kept = recorded_claims(SHOP_API)
    assert kept == {
        "azp": "shop-api", "client_id": "shop-api", "aud": ["notification-service", "account"],
        "preferred_username": "service-account-shop-api",
        "resource_access": {"notification-service": {"roles": ["notifications:send"]}},
        "realm_access": {"roles": ["offline_access", "uma_authorization"]},
        "scope": "email profile", "iat": 1000, "exp": 1300}
    assert list(kept) == list(RECORDED_CLAIMS)  # display order


@pytest.mark.parametrize(("realm_access", "expected"), [
    pytest.param(None, None, id="absent"),
    pytest.param("roles", None, id="not-an-object"),
    pytest.param({"roles": "admin"}, None, id="roles-not-a-list"),
    pytest.param({"roles": ["a", 1, "b"]}, {"roles": ["a", "b"]}, id="non-strings-dropped"),
])
def test_recorded_realm_access_is_only_its_string_roles(realm_access: Any,
                                                        expected: Any) -> None:
    claims = {"azp": "x"} if realm_access is None else {"azp": "x", "realm_access": realm_access}
    assert recorded_claims(claims).get("realm_access") == expected
    assert recorded_claims({"azp": "x"}) == {"azp": "x"}  # absent claims stay absent


def _with(**change: Any) -> dict[str, Any]:
    claims = recorded_claims(SHOP_API)
    for name, value in change.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


@pytest.mark.parametrize(("claims", "problems"), [
    pytest.param(_with(), [], id="as-the-realm-says"),
    pytest.param(_with(aud="notification-service"), [], id="aud-a-single-string"),
    pytest.param(_with(aud=["account", "notification-service"]), [], id="aud-any-order"),
    pytest.param(None, ["no caller claims were recorded with the first order notification"],
                 id="nothing-recorded"),
    pytest.param(_with(azp="cart-reminder-job"),
                 ["azp/client_id are 'cart-reminder-job'/'shop-api', expected 'shop-api'"],
                 id="other-azp"),
    pytest.param(_with(client_id=None), ["azp/client_id are 'shop-api'/None, expected 'shop-api'"],
                 id="no-client-id"),
    pytest.param(_with(preferred_username="alice"),
                 ["preferred_username is 'alice', expected 'service-account-shop-api'"],
                 id="not-the-service-account"),
    pytest.param(_with(aud=["account"]), ["aud ['account'] does not name notification-service"],
                 id="audience-missing"),
    pytest.param(_with(resource_access={"notification-service": {
        "roles": ["notifications:send", "notifications:read"]}}),
        ["resource_access.notification-service.roles is ['notifications:send', "
         "'notifications:read'], expected ['notifications:send']"], id="extra-role"),
    pytest.param(_with(resource_access=None),
                 ["resource_access.notification-service.roles is None, expected "
                  "['notifications:send']"], id="no-resource-access"),
])
def test_demo_checks_shop_api_claims_against_the_realm(claims: dict[str, Any] | None,
                                                       problems: list[str]) -> None:
    assert shop_api_claim_problems(claims) == problems


def test_private_key_jwt_client_gets_its_dev_key_and_authenticates_with_it() -> None:
    key = dev_key_file("inventory-sync")
    assert key == REPO_ROOT / "deploy" / "dev" / "inventory-sync.key.pem"
    assert dev_key_file("shop-api") is None
    config = MockMartConfig.from_env({"KEYCLOAK_CLIENT_ID": "inventory-sync",
                                      "KEYCLOAK_CLIENT_KEY_FILE": str(key)}, defaults={})
    _, fetcher = counting_token_source(config)
    assert (fetcher.config.client_id, type(fetcher.config.auth)) == ("inventory-sync",
                                                                     PrivateKeyJWT)


def test_a_client_secret_still_authenticates_with_basic_and_none_at_all_is_refused() -> None:
    config = MockMartConfig.from_env({"KEYCLOAK_CLIENT_ID": "shop-api",
                                      "KEYCLOAK_CLIENT_SECRET": "s3cret"}, defaults={})
    assert type(counting_token_source(config)[1].config.auth) is ClientSecretBasic
    bare = MockMartConfig.from_env({"KEYCLOAK_CLIENT_ID": "shop-api"}, defaults={})
    with pytest.raises(ValueError, match="no client credential configured"):
        counting_token_source(bare)
