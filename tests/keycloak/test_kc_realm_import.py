"""The project's realm file imports into real Keycloak unchanged and as written: every client
with its flags, the client roles, the service-account role mappings; plus discovery, JWKS and
the legacy /auth layout on a second instance."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import httpx
import pytest

from keycloak_support import REALM_FILE, claims_of, client_token
from svcauth.keycloak import KeycloakEndpoints

# The first test here may start the second (/auth) Keycloak: minutes on a loaded machine.
pytestmark = [pytest.mark.keycloak, pytest.mark.timeout(900)]

REALM: dict[str, Any] = json.loads(REALM_FILE.read_text())
CLIENT_FLAGS = ("enabled", "publicClient", "clientAuthenticatorType", "serviceAccountsEnabled",
                "standardFlowEnabled", "implicitFlowEnabled", "directAccessGrantsEnabled")


@pytest.fixture(scope="module")
def admin(keycloak: KeycloakEndpoints) -> httpx.Client:
    response = httpx.post(keycloak.admin_token_endpoint, data={
        "grant_type": "password", "client_id": "admin-cli",
        "username": keycloak.admin_username, "password": keycloak.admin_password}, timeout=30.0)
    assert response.status_code == 200, response.status_code
    token = response.json()["access_token"]
    return httpx.Client(base_url=keycloak.admin_api, timeout=30.0,
                        headers={"Authorization": f"Bearer {token}"})


def _client(admin: httpx.Client, client_id: str) -> dict[str, Any]:
    found = admin.get("/clients", params={"clientId": client_id}).json()
    assert len(found) == 1, client_id
    client: dict[str, Any] = found[0]
    return client


@pytest.mark.parametrize("wanted", REALM["clients"], ids=[c["clientId"] for c in REALM["clients"]])
def test_client_imported_with_the_flags_of_the_file(admin: httpx.Client,
                                                    wanted: dict[str, Any]) -> None:
    got = _client(admin, wanted["clientId"])
    for flag in CLIENT_FLAGS:
        if flag in wanted:
            assert got[flag] == wanted[flag], flag
    if wanted.get("serviceAccountsEnabled"):
        assert "service_account" in got["defaultClientScopes"]
    for name, value in wanted.get("attributes", {}).items():
        assert got["attributes"][name] == value, name


def test_client_secret_placeholders_resolved_from_dev_env(
        admin: httpx.Client, keycloak_env: dict[str, str]) -> None:
    got = admin.get(f"/clients/{_client(admin, 'shop-api')['id']}/client-secret").json()
    assert got["value"] == keycloak_env["SHOP_API_CLIENT_SECRET"]


@pytest.mark.parametrize("owner", sorted(REALM["roles"]["client"]))
def test_client_roles_imported(admin: httpx.Client, owner: str) -> None:
    roles = admin.get(f"/clients/{_client(admin, owner)['id']}/roles").json()
    assert sorted(r["name"] for r in roles) == sorted(
        r["name"] for r in REALM["roles"]["client"][owner])


SERVICE_USERS = [u for u in REALM["users"] if "serviceAccountClientId" in u]


@pytest.mark.parametrize("user", SERVICE_USERS, ids=[u["serviceAccountClientId"] for u in SERVICE_USERS])
def test_service_account_role_mappings_imported(admin: httpx.Client, user: dict[str, Any]) -> None:
    client = _client(admin, user["serviceAccountClientId"])
    account = admin.get(f"/clients/{client['id']}/service-account-user").json()
    assert account["username"] == user["username"]
    mappings = admin.get(f"/users/{account['id']}/role-mappings").json()
    got = {name: sorted(r["name"] for r in m["mappings"])
           for name, m in mappings.get("clientMappings", {}).items()}
    assert got == {name: sorted(roles) for name, roles in user.get("clientRoles", {}).items()}


def test_discovery_document_names_the_endpoints(keycloak: KeycloakEndpoints) -> None:
    doc = httpx.get(keycloak.discovery_url, timeout=10.0).json()
    assert doc["issuer"] == keycloak.issuer
    assert doc["token_endpoint"] == keycloak.token_endpoint
    assert doc["jwks_uri"] == keycloak.jwks_uri
    assert doc["introspection_endpoint"] == f"{keycloak.token_endpoint}/introspect"
    assert {"client_credentials", "password", "refresh_token"} <= set(doc["grant_types_supported"])
    assert {"private_key_jwt", "client_secret_basic", "client_secret_post"} <= set(
        doc["token_endpoint_auth_methods_supported"])


def test_jwks_publishes_one_signing_and_one_encryption_rsa_key(keycloak: KeycloakEndpoints) -> None:
    keys = httpx.get(keycloak.jwks_uri, timeout=10.0).json()["keys"]
    assert sorted((k["kty"], k["alg"], k["use"]) for k in keys) == [
        ("RSA", "RS256", "sig"), ("RSA", "RSA-OAEP", "enc")]
    for key in keys:
        assert set(key) == {"kid", "kty", "alg", "use", "n", "e", "x5c", "x5t", "x5t#S256"}


def test_introspection_answers_inactive_when_caller_not_in_audience(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    auth = ("notification-service", keycloak_env["NOTIFICATION_SERVICE_CLIENT_SECRET"])
    url = f"{keycloak.token_endpoint}/introspect"
    shop = client_token(keycloak.token_endpoint, keycloak.issuer, keycloak_env, "shop-api")
    # payment-provider's token names shop-api and account, not notification-service.
    payment = client_token(keycloak.token_endpoint, keycloak.issuer, keycloak_env, "payment-provider")
    active = httpx.post(url, data={"token": shop}, auth=auth, timeout=10.0).json()
    inactive = httpx.post(url, data={"token": payment}, auth=auth, timeout=10.0)
    assert (active["active"], active["client_id"]) == (True, "shop-api")
    assert (inactive.status_code, inactive.json()) == (200, {"active": False})


def test_second_instance_under_auth_path_serves_the_seed_request(
        keycloak: KeycloakEndpoints, keycloak_auth: KeycloakEndpoints,
        keycloak_env: dict[str, str]) -> None:
    assert keycloak_auth.base_url != keycloak.base_url
    doc = httpx.get(keycloak_auth.discovery_url, timeout=10.0).json()
    assert doc["issuer"] == f"{keycloak_auth.base_url}/auth/realms/techstore"
    assert httpx.get(f"{keycloak_auth.base_url}/realms/techstore/.well-known/openid-configuration",
                     timeout=10.0).status_code == 404
    curl = shutil.which("curl")
    assert curl is not None
    out = subprocess.run(
        [curl, "-sS", "-X", "POST", keycloak_auth.token_endpoint, "-d", "grant_type=client_credentials",
         "-d", "client_id=shop-api", "-d", f"client_secret={keycloak_env['SHOP_API_CLIENT_SECRET']}"],
        capture_output=True, text=True, check=True, timeout=60)
    body = json.loads(out.stdout)
    assert body["token_type"] == "Bearer"
    assert claims_of(body["access_token"])["iss"] == keycloak_auth.issuer
