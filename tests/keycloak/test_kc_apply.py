"""``svcauth keycloak apply`` against a real Keycloak: create, idempotence, dry-run diff, update.

Works on a COPY of the realm file under a new realm name (``techstore-apply``), so the imported
``techstore`` realm the other tests use is never touched.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from keycloak_support import REALM_FILE, audiences, claims_of
from svcauth._cli import main
from svcauth.keycloak import KeycloakEndpoints

# The first test here may start the second (/auth) Keycloak: minutes on a loaded machine.
pytestmark = [pytest.mark.keycloak, pytest.mark.timeout(900)]

REALM = "techstore-apply"
NEW_SECRET = "dev-audit-job-secret-0a1b2c"


def _copy(base: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    doc["realm"] = REALM
    for user in doc["users"]:
        user["realmRoles"] = [r.replace("default-roles-techstore", f"default-roles-{REALM}")
                              for r in user.get("realmRoles", [])]
    return doc


def _changed(doc: dict[str, Any]) -> dict[str, Any]:
    """A new client role, a new client with a service account holding it, one flag flipped."""
    doc = copy.deepcopy(doc)
    doc["roles"]["client"]["notification-service"].append(
        {"name": "notifications:audit", "description": "Audit sent notifications"})
    shop = next(c for c in doc["clients"] if c["clientId"] == "shop-api")
    audit = {**copy.deepcopy(shop), "clientId": "audit-job", "name": "audit-job",
             "description": "Audits notifications", "secret": "${AUDIT_JOB_CLIENT_SECRET}"}
    doc["clients"].append(audit)
    doc["users"].append({"username": "service-account-audit-job", "enabled": True,
                         "serviceAccountClientId": "audit-job",
                         "realmRoles": [f"default-roles-{REALM}"],
                         "clientRoles": {"notification-service": ["notifications:audit"]}})
    notification = next(c for c in doc["clients"] if c["clientId"] == "notification-service")
    notification["frontchannelLogout"] = True
    return doc


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, keycloak: KeycloakEndpoints,
            keycloak_env: dict[str, str]) -> dict[str, str]:
    for name, value in keycloak_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KC_BOOTSTRAP_ADMIN_USERNAME", keycloak.admin_username)
    monkeypatch.setenv("KC_BOOTSTRAP_ADMIN_PASSWORD", keycloak.admin_password)
    monkeypatch.setenv("AUDIT_JOB_CLIENT_SECRET", NEW_SECRET)
    return {**keycloak_env, "AUDIT_JOB_CLIENT_SECRET": NEW_SECRET}


def _apply(capsys: pytest.CaptureFixture[str], path: Path, server: str, *extra: str) -> list[str]:
    code = main(["keycloak", "apply", str(path), "--server", server, *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return out.splitlines()


def _token(keycloak: KeycloakEndpoints, client_id: str, secret: str) -> httpx.Response:
    url = f"{keycloak.server_url}/realms/{REALM}/protocol/openid-connect/token"
    return httpx.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                      timeout=30.0)


def test_apply_creates_then_is_idempotent_and_dry_run_shows_exactly_the_diff(
        tmp_path: Path, keycloak: KeycloakEndpoints, cli_env: dict[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    base = _copy(json.loads(REALM_FILE.read_text(encoding="utf-8")))
    first = tmp_path / "realm.json"
    first.write_text(json.dumps(base), encoding="utf-8")
    server = keycloak.base_url

    created = _apply(capsys, first, server)
    assert created[0] == f"+ realm {REALM}"
    assert "+ client shop-api" in created
    assert "+ role notification-service notifications:send" in created
    assert "+ service-account shop-api role notification-service:notifications:send" in created
    assert created[-1] == f"realm {REALM}: {len(created) - 1} change(s) applied"
    secrets = [v for k, v in cli_env.items() if k.endswith(("_SECRET", "_PASSWORD"))]
    assert not any(secret in line for line in created for secret in secrets)

    assert _apply(capsys, first, server) == [f"realm {REALM}: no changes"]
    shop = _token(keycloak, "shop-api", cli_env["SHOP_API_CLIENT_SECRET"])
    assert shop.status_code == 200, shop.text
    assert "notification-service" in audiences(claims_of(shop.json()["access_token"]))

    second = tmp_path / "changed.json"
    second.write_text(json.dumps(_changed(base)), encoding="utf-8")
    expected = [
        "~ client notification-service frontchannelLogout: false -> true",
        "+ client audit-job",
        "+ role notification-service notifications:audit",
        "+ service-account audit-job role notification-service:notifications:audit",
        f"+ service-account audit-job role realm:default-roles-{REALM}",
    ]
    planned = _apply(capsys, second, server, "--dry-run")
    assert planned == [*expected, f"realm {REALM}: 5 change(s) planned (dry run: nothing changed)"]
    assert _apply(capsys, second, server, "--dry-run") == planned  # the dry run changed nothing
    assert _token(keycloak, "audit-job", NEW_SECRET).status_code == 401

    assert _apply(capsys, second, server) == [*expected, f"realm {REALM}: 5 change(s) applied"]
    assert _apply(capsys, second, server) == [f"realm {REALM}: no changes"]

    audit = _token(keycloak, "audit-job", NEW_SECRET)
    assert audit.status_code == 200, audit.text
    claims = claims_of(audit.json()["access_token"])
    assert claims["azp"] == "audit-job"
    assert claims["client_id"] == "audit-job"
    assert "notification-service" in audiences(claims)
    assert claims["resource_access"]["notification-service"]["roles"] == ["notifications:audit"]


def test_apply_rotates_a_secret_from_the_environment_without_printing_it(
        tmp_path: Path, keycloak: KeycloakEndpoints, cli_env: dict[str, str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _copy(json.loads(REALM_FILE.read_text(encoding="utf-8")))
    doc["realm"] = f"{REALM}-secret"
    for user in doc["users"]:
        user["realmRoles"] = [f"default-roles-{REALM}-secret" for _ in user.get("realmRoles", [])]
    path = tmp_path / "realm.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    _apply(capsys, path, keycloak.base_url)
    rotated = "dev-rotated-shop-api-secret-77"
    monkeypatch.setenv("SHOP_API_CLIENT_SECRET", rotated)

    lines = _apply(capsys, path, keycloak.base_url, "--dry-run")
    assert lines == ["~ client shop-api secret: *** -> ***",
                     f"realm {REALM}-secret: 1 change(s) planned (dry run: nothing changed)"]
    _apply(capsys, path, keycloak.base_url)
    url = f"{keycloak.server_url}/realms/{REALM}-secret/protocol/openid-connect/token"
    old = httpx.post(url, data={"grant_type": "client_credentials"},
                     auth=("shop-api", cli_env["SHOP_API_CLIENT_SECRET"]), timeout=30.0)
    new = httpx.post(url, data={"grant_type": "client_credentials"},
                     auth=("shop-api", rotated), timeout=30.0)
    assert (old.status_code, new.status_code) == (401, 200)


def test_apply_adds_changes_and_removes_mappers_scopes_roles_and_settings(
        tmp_path: Path, keycloak: KeycloakEndpoints, cli_env: dict[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    realm = f"{REALM}-edit"
    doc = _copy(json.loads(REALM_FILE.read_text(encoding="utf-8")))
    doc["realm"] = realm
    for user in doc["users"]:
        user["realmRoles"] = [f"default-roles-{realm}" for _ in user.get("realmRoles", [])]
    path = tmp_path / "realm.json"

    def step(expected: list[str]) -> list[str]:
        path.write_text(json.dumps(doc), encoding="utf-8")
        lines = _apply(capsys, path, keycloak.base_url)
        assert lines[:-1] == expected
        assert _apply(capsys, path, keycloak.base_url) == [f"realm {realm}: no changes"]
        url = f"{keycloak.server_url}/realms/{realm}/protocol/openid-connect/token"
        response = httpx.post(url, data={"grant_type": "client_credentials"},
                              auth=("shop-api", cli_env["SHOP_API_CLIENT_SECRET"]), timeout=30.0)
        assert response.status_code == 200, response.text
        return sorted(audiences(claims_of(response.json()["access_token"])))

    shop = next(c for c in doc["clients"] if c["clientId"] == "shop-api")
    shop.pop("protocolMappers", None)  # the broker's mappers: this test adds its own
    path.write_text(json.dumps(doc), encoding="utf-8")
    _apply(capsys, path, keycloak.base_url)
    # shop-api holds roles of these clients: "audience resolve" puts them in aud.
    base = ["account", "inventory-service", "notification-service", "rabbitmq"]
    shop["protocolMappers"] = [{
        "name": "audience inventory-sync", "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper", "consentRequired": False,
        "config": {"included.client.audience": "inventory-sync", "id.token.claim": "false",
                   "access.token.claim": "true"}}]
    assert step(["+ mapper shop-api audience inventory-sync"]) == sorted([*base, "inventory-sync"])

    shop["protocolMappers"][0]["config"]["access.token.claim"] = "false"
    assert step(['~ mapper shop-api audience inventory-sync config.access.token.claim: '
                 '"true" -> "false"']) == base

    del shop["protocolMappers"]
    shop["defaultClientScopes"].remove("email")
    doc["roles"]["client"]["notification-service"] = [
        r for r in doc["roles"]["client"]["notification-service"] if r["name"] != "notifications:read"]
    for user in doc["users"]:
        if user.get("serviceAccountClientId") == "inventory-sync":
            user["clientRoles"] = {}
    doc["accessTokenLifespan"] = 240
    assert step([f"~ realm {realm} accessTokenLifespan: 300 -> 240",
                 "- client shop-api defaultClientScopes email",
                 "- mapper shop-api audience inventory-sync",
                 "- role notification-service notifications:read",
                 "- service-account inventory-sync role notification-service:notifications:read",
                 ]) == base


def test_apply_under_the_legacy_auth_path(tmp_path: Path, keycloak_auth: KeycloakEndpoints,
                                          cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KC_BOOTSTRAP_ADMIN_USERNAME", keycloak_auth.admin_username)
    monkeypatch.setenv("KC_BOOTSTRAP_ADMIN_PASSWORD", keycloak_auth.admin_password)
    path = tmp_path / "realm.json"
    path.write_text(json.dumps(_copy(json.loads(REALM_FILE.read_text(encoding="utf-8")))),
                    encoding="utf-8")
    created = _apply(capsys, path, keycloak_auth.base_url, "--realm-path", "/auth")
    assert created[0] == f"+ realm {REALM}"
    assert _apply(capsys, path, keycloak_auth.base_url, "--realm-path", "/auth") == [
        f"realm {REALM}: no changes"]
    url = f"{keycloak_auth.base_url}/auth/realms/{REALM}/protocol/openid-connect/token"
    response = httpx.post(url, data={"grant_type": "client_credentials"},
                          auth=("shop-api", cli_env["SHOP_API_CLIENT_SECRET"]), timeout=30.0)
    assert response.status_code == 200, response.text
