"""Tokens from a real Keycloak with the project's realm imported unchanged: the seed's curl call,
every service client's client_credentials token, alice's password grant, verified with PyJWT."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import httpx
import jwt
import pytest

from keycloak_support import (
    audiences,
    claims_of,
    client_token,
    header_of,
    inventory_assertion,
    jwt_form,
    post_form,
)
from mockmart.system.code_login import login_response
from svcauth.keycloak import KeycloakEndpoints

pytestmark = pytest.mark.keycloak

DEFAULT_REALM_ROLES = ["default-roles-techstore", "offline_access", "uma_authorization"]


def _verified(token: str, endpoints: KeycloakEndpoints, audience: str | None) -> dict[str, Any]:
    """Verify with PyJWT against Keycloak's JWKS (an independent implementation)."""
    jwks = httpx.get(endpoints.jwks_uri, timeout=10.0).json()
    kid = header_of(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid and k["use"] == "sig"]
    key = jwt.PyJWK(jwk).key
    options = {"verify_aud": audience is not None}
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], issuer=endpoints.issuer,
                                        audience=audience, options=options)
    return claims


def test_seed_curl_request_returns_bearer_token_for_300_seconds(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    curl = shutil.which("curl")
    assert curl is not None
    out = subprocess.run(
        [curl, "-sS", "-X", "POST", keycloak.token_endpoint, "-d", "grant_type=client_credentials",
         "-d", "client_id=shop-api", "-d", f"client_secret={keycloak_env['SHOP_API_CLIENT_SECRET']}"],
        capture_output=True, text=True, check=True, timeout=60)
    body = json.loads(out.stdout)
    assert set(body) == {"access_token", "expires_in", "refresh_expires_in", "token_type",
                         "not-before-policy", "scope"}
    assert body["token_type"] == "Bearer"
    claims = claims_of(body["access_token"])
    assert claims["exp"] - claims["iat"] == 300
    # Keycloak writes expires_in = exp - now at response time: 300, or 299 when a second
    # boundary passed while it served the request (seen on the first request after start).
    assert body["expires_in"] in (299, 300)
    assert body["refresh_expires_in"] == 0
    # The order of scope names differs between Keycloak runs: compare as a set.
    assert set(body["scope"].split()) == {"email", "profile"}


# client, audience that must be present (or None), audience that must be absent, roles by client
SERVICE_CLIENTS = [
    ("shop-api", "inventory-service", None, {"notification-service": ["notifications:send"],
                                             "inventory-service": ["inventory:read",
                                                                   "inventory:reserve"],
                                             "rabbitmq": ["rabbitmq.write:*/orders"]}),
    ("order-events-worker", "rabbitmq", None, {"notification-service": ["notifications:send"],
                                               "rabbitmq": ["rabbitmq.read:*/orders"]}),
    ("cart-reminder-job", "notification-service", None,
     {"notification-service": ["notifications:send"]}),
    ("inventory-sync", "notification-service", None,
     {"notification-service": ["notifications:read"]}),
    ("payment-provider", "shop-api", "notification-service", {"shop-api": ["webhooks:payment"]}),
    ("reporting-job", "notification-service", None, {}),
]


@pytest.mark.parametrize(("client_id", "aud_in", "aud_out", "roles"), SERVICE_CLIENTS,
                         ids=[row[0] for row in SERVICE_CLIENTS])
def test_service_client_token_carries_keycloak_service_account_claims(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str], client_id: str,
        aud_in: str | None, aud_out: str | None, roles: dict[str, list[str]]) -> None:
    token = client_token(keycloak.token_endpoint, keycloak.issuer, keycloak_env, client_id)
    header = header_of(token)
    assert (header["alg"], header["typ"]) == ("RS256", "JWT")
    claims = _verified(token, keycloak, aud_in)
    assert claims["iss"] == keycloak.issuer
    assert claims["typ"] == "Bearer"
    assert claims["azp"] == client_id
    assert claims["client_id"] == client_id
    assert claims["preferred_username"] == f"service-account-{client_id}"
    assert (claims["clientHost"], claims["clientAddress"]) == ("127.0.0.1", "127.0.0.1")
    assert claims["email_verified"] is False
    assert set(claims["scope"].split()) == {"email", "profile"}
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"].startswith("trrtcc:")
    assert "sid" not in claims
    assert sorted(claims["realm_access"]["roles"]) == DEFAULT_REALM_ROLES
    service_roles = {c: sorted(r["roles"]) for c, r in claims["resource_access"].items()
                     if c != "account"}
    assert service_roles == roles
    aud = audiences(claims)
    assert "account" in aud
    if aud_in is not None:
        assert aud_in in aud
    if aud_out is not None:
        assert aud_out not in aud


def test_alice_code_flow_gives_user_access_and_id_token(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    response = login_response(keycloak.issuer, "alice", keycloak_env["ALICE_PASSWORD"],
                              client_secret=keycloak_env["STOREFRONT_CLIENT_SECRET"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "refresh_expires_in", "refresh_token",
                         "token_type", "id_token", "not-before-policy", "session_state", "scope"}
    assert (body["token_type"], body["refresh_expires_in"]) == ("Bearer", 1800)
    assert set(body["scope"].split()) == {"openid", "email", "profile"}
    access = _verified(body["access_token"], keycloak, "notification-service")
    assert access["azp"] == "storefront"
    assert access["preferred_username"] == "alice"
    assert access["email"] == "alice@example.com"
    assert access["sid"] == body["session_state"]
    assert access["resource_access"]["notification-service"]["roles"] == ["notifications:read"]
    assert not {"client_id", "clientHost", "clientAddress"} & set(access)
    id_claims = _verified(body["id_token"], keycloak, "storefront")
    assert (id_claims["typ"], id_claims["aud"], id_claims["azp"]) == ("ID", "storefront", "storefront")
    assert "resource_access" not in id_claims
    assert header_of(body["refresh_token"])["alg"] == "HS512"
    assert claims_of(body["refresh_token"])["typ"] == "Refresh"


@pytest.mark.parametrize("aud_kind", ["issuer", "token_endpoint"])
def test_private_key_jwt_accepts_issuer_or_token_endpoint_as_audience(
        keycloak: KeycloakEndpoints, aud_kind: str) -> None:
    aud = keycloak.issuer if aud_kind == "issuer" else keycloak.token_endpoint
    response = post_form(keycloak.token_endpoint, jwt_form(inventory_assertion(aud)))
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["azp"] == "inventory-sync"
