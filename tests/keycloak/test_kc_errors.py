"""The exact error responses of Keycloak's token endpoint (the dev IdP must match them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from keycloak_support import SECRET_VARS, inventory_assertion, jwt_form, post_form

from svcauth.keycloak import KeycloakEndpoints

pytestmark = pytest.mark.keycloak

INVALID_CREDENTIALS = "Invalid client or Invalid client credentials"

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
    ("public_client_credentials", lambda kc, env: ({"grant_type": "client_credentials",
                                                    "client_id": "storefront"}, None),
     401, "unauthorized_client", "Public client not allowed to retrieve service account"),
    ("service_accounts_off", lambda kc, env: (
        {"grant_type": "client_credentials"},
        ("notification-service", env[SECRET_VARS["notification-service"]])),
     401, "unauthorized_client", "Client not enabled to retrieve service account"),
    ("direct_grants_off", lambda kc, env: (
        {"grant_type": "password", "username": "alice", "password": env["ALICE_PASSWORD"]},
        ("shop-api", env[SECRET_VARS["shop-api"]])),
     400, "unauthorized_client", "Client not allowed for direct access grants"),
    ("wrong_user_password", lambda kc, env: ({"grant_type": "password", "client_id": "storefront",
                                              "username": "alice", "password": "nope"}, None),
     400, "invalid_grant", "Invalid user credentials"),
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
