"""client_credentials with every client-authentication method, and the claims layout of
every service client in the techstore realm, verified with independent libraries."""

from __future__ import annotations

import base64
import urllib.parse
import uuid
from typing import Any

import httpx
import pytest
from devidp_support import (
    assertion,
    claims_of,
    header_of,
    jwt_form,
    post,
    secret_form,
    verify_with_pyjwt,
)
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from svcauth.devidp import DevIdP

ACCOUNT = {"roles": ["manage-account", "manage-account-links", "view-profile"]}
REALM_ROLES = {"roles": ["default-roles-techstore", "offline_access", "uma_authorization"]}

# client -> (aud, resource_access) as the realm file implies under Keycloak's
# audience-resolve mapper (every other client holding a role in the token), plus the
# client's own oidc-audience-mapper (reporting-job: notification-service, without a role).
EXPECTED: dict[str, tuple[Any, dict[str, Any]]] = {
    "shop-api": (["notification-service", "rabbitmq", "inventory-service", "account"],
                 {"notification-service": {"roles": ["notifications:send"]},
                  "rabbitmq": {"roles": ["rabbitmq.write:*/orders"]},
                  "inventory-service": {"roles": ["inventory:read", "inventory:reserve"]},
                  "account": ACCOUNT}),
    "order-events-worker": (["notification-service", "rabbitmq", "account"],
                            {"notification-service": {"roles": ["notifications:send"]},
                             "rabbitmq": {"roles": ["rabbitmq.read:*/orders"]},
                             "account": ACCOUNT}),
    "cart-reminder-job": (["notification-service", "account"],
                          {"notification-service": {"roles": ["notifications:send"]},
                           "account": ACCOUNT}),
    "payment-provider": (["shop-api", "account"],
                         {"shop-api": {"roles": ["webhooks:payment"]}, "account": ACCOUNT}),
    "reporting-job": (["account", "notification-service"], {"account": ACCOUNT}),
    "inventory-sync": (["notification-service", "account"],
                       {"notification-service": {"roles": ["notifications:read"]},
                        "account": ACCOUNT}),
}

BROKER_SCOPES = {"shop-api": {"rabbitmq_scopes"}, "order-events-worker": {"rabbitmq_scopes"}}


def _token_for(idp: DevIdP, env: dict[str, str], client_id: str) -> dict[str, Any]:
    if client_id == "inventory-sync":
        data = jwt_form(assertion(idp.issuer))
    else:
        data = secret_form(env, client_id)
    response = post(idp.token_endpoint, data)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("client_id", sorted(EXPECTED))
def test_service_token_claims_match_the_realm(idp: DevIdP, dev_env: dict[str, str],
                                              client_id: str) -> None:
    body = _token_for(idp, dev_env, client_id)
    claims = verify_with_pyjwt(body["access_token"], idp.jwks(), issuer=idp.issuer)
    aud, resource_access = EXPECTED[client_id]
    assert claims["aud"] == aud
    assert claims["resource_access"] == resource_access
    assert claims["azp"] == client_id
    assert claims["client_id"] == client_id
    assert claims["preferred_username"] == f"service-account-{client_id}"
    assert claims["typ"] == "Bearer"
    assert claims["realm_access"] == REALM_ROLES
    assert claims["scope"] == "email profile"
    assert claims["email_verified"] is False
    assert claims["clientHost"] == claims["clientAddress"] == "127.0.0.1"
    assert claims["acr"] == "1"
    assert claims["exp"] - claims["iat"] == 300
    assert str(uuid.UUID(claims["sub"])) == claims["sub"]
    assert claims["jti"].startswith("trrtcc:")
    assert "sid" not in claims and "allowed-origins" not in claims
    assert set(claims) == {"exp", "iat", "jti", "iss", "aud", "sub", "typ", "azp", "acr",
                           "realm_access", "resource_access", "scope", "clientHost",
                           "email_verified", "preferred_username", "clientAddress",
                           "client_id"} | BROKER_SCOPES.get(client_id, set())
    if client_id in BROKER_SCOPES:  # the realm's client-role mapper of the rabbitmq client
        assert claims["rabbitmq_scopes"] == resource_access["rabbitmq"]["roles"]


def test_token_response_has_keycloaks_fields(idp: DevIdP, dev_env: dict[str, str]) -> None:
    body = _token_for(idp, dev_env, "shop-api")
    assert {k: v for k, v in body.items() if k != "access_token"} == {
        "expires_in": 300, "refresh_expires_in": 0, "token_type": "Bearer",
        "not-before-policy": 0, "scope": "email profile"}


def test_header_is_rs256_jwt_with_the_active_kid(idp: DevIdP, dev_env: dict[str, str]) -> None:
    token = _token_for(idp, dev_env, "shop-api")["access_token"]
    assert header_of(token) == {"alg": "RS256", "typ": "JWT", "kid": idp.active_kid}


def test_sub_is_stable_per_service_account_and_differs_between_them(
        idp: DevIdP, dev_env: dict[str, str]) -> None:
    first = claims_of(_token_for(idp, dev_env, "shop-api")["access_token"])
    second = claims_of(_token_for(idp, dev_env, "shop-api")["access_token"])
    other = claims_of(_token_for(idp, dev_env, "reporting-job")["access_token"])
    assert first["sub"] == second["sub"] != other["sub"]
    assert first["jti"] != second["jti"]


def test_token_verifies_with_joserfc_against_the_served_jwks(
        idp: DevIdP, dev_env: dict[str, str]) -> None:
    token = _token_for(idp, dev_env, "shop-api")["access_token"]
    jwks = httpx.get(idp.jwks_uri, timeout=10).json()
    decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.claims["azp"] == "shop-api"
    assert decoded.header["kid"] == idp.active_kid


def test_client_secret_basic(idp: DevIdP, dev_env: dict[str, str]) -> None:
    response = post(idp.token_endpoint, {"grant_type": "client_credentials"},
                    auth=("shop-api", dev_env["SHOP_API_CLIENT_SECRET"]))
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["client_id"] == "shop-api"


def test_client_secret_basic_decodes_form_urlencoded_credentials(
        idp: DevIdP, dev_env: dict[str, str]) -> None:
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    secret = urllib.parse.quote_plus(dev_env["SHOP_API_CLIENT_SECRET"])
    raw = base64.b64encode(f"shop-api:{secret}".encode()).decode()
    response = post(idp.token_endpoint, {"grant_type": "client_credentials"},
                    headers={"Authorization": f"Basic {raw}"})
    assert response.status_code == 200


def test_client_secret_post(idp: DevIdP, dev_env: dict[str, str]) -> None:
    response = post(idp.token_endpoint, secret_form(dev_env, "cart-reminder-job"))
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["azp"] == "cart-reminder-job"


@pytest.mark.parametrize("which", ["issuer", "token_endpoint"])
def test_private_key_jwt_accepts_issuer_or_token_endpoint_as_aud(idp: DevIdP,
                                                                 which: str) -> None:
    response = post(idp.token_endpoint, jwt_form(assertion(getattr(idp, which))))
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["client_id"] == "inventory-sync"


def test_private_key_jwt_with_matching_client_id_parameter(idp: DevIdP) -> None:
    data = jwt_form(assertion(idp.issuer), client_id="inventory-sync")
    assert post(idp.token_endpoint, data).status_code == 200


def test_scope_openid_and_default_scopes_are_accepted_optional_ones_the_client_lacks_refused(
        idp: DevIdP, dev_env: dict[str, str]) -> None:
    # shop-api lists defaultClientScopes and no optionalClientScopes: Keycloak's import then
    # gives it no optional scope at all, so "phone" is refused (checked on 26.7.3 in
    # tests/conformance); openid and its default scopes are accepted.
    response = post(idp.token_endpoint, secret_form(dev_env, "shop-api",
                                                    scope="openid roles"))
    assert response.status_code == 200
    assert response.json()["scope"] == "openid email profile"
    assert claims_of(response.json()["access_token"])["scope"] == "openid email profile"
    refused = post(idp.token_endpoint, secret_form(dev_env, "shop-api", scope="openid phone"))
    assert (refused.status_code, refused.json()) == (400, {
        "error": "invalid_scope", "error_description": "Invalid scopes: openid phone"})


def test_mint_token_signs_like_the_endpoint(idp: DevIdP) -> None:
    token = idp.mint_token("shop-api", lifetime=60, extra_claims={"x-test": 1})
    claims = verify_with_pyjwt(token, idp.jwks(), issuer=idp.issuer,
                               audience="notification-service")
    assert claims["exp"] - claims["iat"] == 60
    assert claims["x-test"] == 1
    assert claims["preferred_username"] == "service-account-shop-api"


def test_mint_token_in_the_past_gives_an_expired_token(idp: DevIdP) -> None:
    import jwt

    token = idp.mint_token("shop-api", now=1_000_000, lifetime=300)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_with_pyjwt(token, idp.jwks(), issuer=idp.issuer)


def test_public_names_of_the_package() -> None:
    import svcauth.devidp as devidp

    assert devidp.__all__ == ["Client", "DevIdP", "Realm", "User", "load_env_file",
                              "load_realm", "parse_env"]
