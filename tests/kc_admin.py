"""A small Keycloak Admin REST API client for tests: an admin token from the master realm
(the bootstrap admin), a throw-away copy of the techstore realm, and key providers.

Tests that change a realm's keys work on a copy (``import_realm_copy``) so the session's
``techstore`` realm stays as imported. Secrets never appear in messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from svcauth.keycloak import KeycloakEndpoints

KEY_PROVIDER = "org.keycloak.keys.KeyProvider"
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


class KeycloakAdmin:
    """The Admin REST API of one Keycloak, as its bootstrap admin."""

    def __init__(self, endpoints: KeycloakEndpoints) -> None:
        self.endpoints = endpoints
        self._http = httpx.Client(timeout=30.0)

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def _headers(self) -> dict[str, str]:
        # A fresh admin token per call: the master realm's tokens live 60 s.
        response = self._http.post(self.endpoints.admin_token_endpoint, data={
            "grant_type": "password", "client_id": "admin-cli",
            "username": self.endpoints.admin_username,
            "password": self.endpoints.admin_password})
        assert response.status_code == 200, f"admin token: HTTP {response.status_code}"
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """``method`` on ``<server_url>/admin/realms`` + ``path``."""
        url = f"{self.endpoints.server_url}/admin/realms{path}"
        return self._http.request(method, url, json=body, headers=self._headers())

    def import_realm_copy(self, realm_file: Path, env: dict[str, str],
                          name: str) -> KeycloakEndpoints:
        """Create realm ``name`` from ``realm_file`` with its ``${PLACEHOLDERS}`` filled from
        ``env``; the endpoints of the new realm."""
        text = _PLACEHOLDER.sub(lambda m: env[m.group(1)], realm_file.read_text("utf-8"))
        realm = json.loads(text)
        realm["realm"] = name
        realm.pop("id", None)
        response = self.request("POST", "", realm)
        assert response.status_code == 201, f"import {name}: HTTP {response.status_code}"
        return replace(self.endpoints, realm=name)

    def delete_realm(self, name: str) -> None:
        """Remove realm ``name`` (idempotent)."""
        response = self.request("DELETE", f"/{name}")
        assert response.status_code in (204, 404), f"delete {name}: HTTP {response.status_code}"

    def realm_id(self, name: str) -> str:
        """The internal id of realm ``name`` (the parentId of its components)."""
        response = self.request("GET", f"/{name}")
        assert response.status_code == 200, f"realm {name}: HTTP {response.status_code}"
        realm_id: str = response.json()["id"]
        return realm_id

    def add_key_provider(self, realm: str, name: str, provider_id: str,
                         config: dict[str, list[str]]) -> str:
        """Add a key provider component; its component id."""
        response = self.request("POST", f"/{realm}/components", {
            "name": name, "providerId": provider_id, "providerType": KEY_PROVIDER,
            "parentId": self.realm_id(realm), "config": config})
        assert response.status_code == 201, f"add key provider: HTTP {response.status_code}"
        return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]

    def update_component_config(self, realm: str, component_id: str,
                                changes: dict[str, list[str]]) -> None:
        """Merge ``changes`` into a component's config (e.g. ``enabled: ["false"]``)."""
        current = self.request("GET", f"/{realm}/components/{component_id}")
        assert current.status_code == 200, f"component: HTTP {current.status_code}"
        component = current.json()
        component["config"] = {**component.get("config", {}), **changes}
        response = self.request("PUT", f"/{realm}/components/{component_id}", component)
        assert response.status_code == 204, f"update component: HTTP {response.status_code}"

    def signing_keys(self, realm: str) -> list[dict[str, Any]]:
        """The realm's RS256 keys as ``/keys`` lists them: kid, providerId (the component),
        providerPriority, status (ACTIVE, PASSIVE, DISABLED)."""
        response = self.request("GET", f"/{realm}/keys")
        assert response.status_code == 200, f"keys: HTTP {response.status_code}"
        return [k for k in response.json()["keys"]
                if k.get("algorithm") == "RS256" and k.get("use") == "SIG"]
