"""The exact error responses of Keycloak's token endpoint (the dev IdP must match them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from keycloak_support import SECRET_VARS, inventory_assertion, jwt_form, post_form
from svcauth.keycloak import KeycloakEndpoints

pytestmark = pytest.mark.keycloak

INVALID_CREDENTIALS = "Invalid client or Invalid client credentials"
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)

Request = Callable[[KeycloakEndpoints, dict[str, str]], tuple[dict[str, str], Any]]

# name, request builder -> (form, basic auth), status, error, error_description
CASES: list[tuple[str, Request, int, str, str]] = [
    ("wrong_secret_basic", lambda kc, env: ({"grant_type": "client_credentials"},
                                            ("shop-api", "wrong")),
     401, "unauthorized_client", INVALID_CREDENTIALS),
    ("wrong_secret_post", lambda kc, env: ({"grant_type": "client_credentials",
                                            "client_id": "shop-api", "client_secret": "wrong"}, None),
     401, "unauthorized_client", INVALID_CREDENTIALS),
    ("unknown_client", lambda kc, env: ({"grant_type": "client_credentials", "client_id": "nobody",
                                         "client_secret": "x"}, None),
     401, "invalid_client", INVALID_CREDENTIALS),
    ("no_client_authentication", lambda kc, env: ({"grant_type": "client_credentials"}, None),
     401, "invalid_client", INVALID_CREDENTIALS),
    ("storefront_client_credentials", lambda kc, env: (
        {"grant_type": "client_credentials"}, ("storefront", env["STOREFRONT_CLIENT_SECRET"])),
     401, "unauthorized_client", "Client not enabled to retrieve service account"),
    ("service_accounts_off", lambda kc, env: (
        {"grant_type": "client_credentials"},
        ("notification-service", env[SECRET_VARS["notification-service"]])),
     401, "unauthorized_client", "Client not enabled to retrieve service account"),
    ("direct_grants_off", lambda kc, env: (
        {"grant_type": "password", "username": "alice", "password": env["ALICE_PASSWORD"]},
        ("shop-api", env[SECRET_VARS["shop-api"]])),
     400, "unauthorized_client", "Client not allowed for direct access grants"),
    ("storefront_password_grant", lambda kc, env: (
        {"grant_type": "password", "username": "alice", "password": env["ALICE_PASSWORD"]},
        ("storefront", env["STOREFRONT_CLIENT_SECRET"])),
     400, "unauthorized_client", "Client not allowed for direct access grants"),
    ("unknown_scope", lambda kc, env: ({"grant_type": "client_credentials", "scope": "nonexistent"},
                                       ("shop-api", env[SECRET_VARS["shop-api"]])),
     400, "invalid_scope", "Invalid scopes: nonexistent"),
    ("missing_grant_type", lambda kc, env: ({}, ("shop-api", env[SECRET_VARS["shop-api"]])),
     400, "invalid_request", "Missing form parameter: grant_type"),
    ("unsupported_grant_type", lambda kc, env: ({"grant_type": "foo"},
                                                ("shop-api", env[SECRET_VARS["shop-api"]])),
     400, "unsupported_grant_type", "Unsupported grant_type"),
    ("assertion_with_two_audiences", lambda kc, env: (
        jwt_form(inventory_assertion([kc.issuer, kc.token_endpoint])), None),
     400, "invalid_client", "Multiple audiences not allowed"),
    ("assertion_expired", lambda kc, env: (
        jwt_form(inventory_assertion(kc.issuer, iat=int(time.time()) - 120,
                                     exp=int(time.time()) - 60)), None),
     400, "invalid_client", "Token is not active"),
    ("assertion_issued_in_future", lambda kc, env: (
        jwt_form(inventory_assertion(kc.issuer, iat=int(time.time()) + 300,
                                     exp=int(time.time()) + 330)), None),
     400, "invalid_client", "Token was issued in the future"),
    ("assertion_signed_by_other_key", lambda kc, env: (
        jwt_form(inventory_assertion(kc.issuer, key=OTHER_KEY)), None),
     400, "invalid_client",
     "Client authentication with signed JWT failed: Signature on JWT token failed validation"),
    ("assertion_for_other_audience", lambda kc, env: (
        jwt_form(inventory_assertion("http://example.com/realms/techstore")), None),
     400, "invalid_client", "Invalid token audience"),
    ("assertion_without_jti", lambda kc, env: (
        jwt_form(inventory_assertion(kc.issuer, drop=("jti",))), None),
     400, "invalid_client", "Token jti claim is required"),
    ("assertion_without_exp", lambda kc, env: (
        jwt_form(inventory_assertion(kc.issuer, drop=("exp",))), None),
     400, "invalid_client", "Token exp claim is required"),
    ("assertion_far_exp_without_iat", lambda kc, env: (
        jwt_form(inventory_assertion(kc.issuer, lifetime=3600, drop=("iat",))), None),
     400, "invalid_client",
     "Token expiration is too far in the future and iat claim not present in token"),
    ("assertion_of_other_client", lambda kc, env: (
        jwt_form(inventory_assertion(kc.issuer, iss="shop-api", sub="shop-api")), None),
     400, "invalid_client", "client_id parameter does not match authenticated client"),
    ("secret_for_private_key_jwt_client", lambda kc, env: (
        {"grant_type": "client_credentials", "client_id": "inventory-sync",
         "client_secret": "x"}, None),
     400, "invalid_client", "Parameter client_assertion_type is missing"),
]


@pytest.mark.parametrize(("name", "build", "status", "error", "description"), CASES,
                         ids=[case[0] for case in CASES])
def test_token_endpoint_error(keycloak: KeycloakEndpoints, keycloak_env: dict[str, str],
                              name: str, build: Request, status: int, error: str,
                              description: str) -> None:
    form, auth = build(keycloak, keycloak_env)
    response = post_form(keycloak.token_endpoint, form, auth=auth)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": error, "error_description": description}


def test_replayed_client_assertion_is_refused(keycloak: KeycloakEndpoints) -> None:
    assertion = inventory_assertion(keycloak.issuer)
    first = post_form(keycloak.token_endpoint, jwt_form(assertion))
    second = post_form(keycloak.token_endpoint, jwt_form(assertion))
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json() == {"error": "invalid_client", "error_description": "Token reuse detected"}


@pytest.mark.parametrize(("drop", "lifetime"), [(("client_id",), 30), ((), 3600)],
                         ids=["without_client_id_parameter", "hour_long_assertion_with_iat"])
def test_assertion_accepted_without_client_id_or_with_long_lifetime(
        keycloak: KeycloakEndpoints, drop: tuple[str, ...], lifetime: int) -> None:
    form = jwt_form(inventory_assertion(keycloak.issuer, lifetime=lifetime))
    for name in drop:
        form.pop(name)
    response = post_form(keycloak.token_endpoint, form)
    assert response.status_code == 200, response.text
