"""A second, independent Keycloak under the legacy ``/auth`` path (``keycloak_auth``), reached
through the seed's variables with ``KEYCLOAK_AUTH_PATH=/auth`` and with ``auto``."""

from __future__ import annotations

from typing import Any

import pytest

from keycloak_support import SECRET_VARS
from svcauth._discovery import discover_keycloak
from svcauth._errors import DiscoveryError
from svcauth.caller import ClientConfig, ClientCredentialsSource
from svcauth.keycloak import KeycloakEndpoints
from svcauth.receiver import RemoteKeySet, ServicePolicy, Verifier

pytestmark = pytest.mark.keycloak


def _environ(kc: KeycloakEndpoints, env: dict[str, str], auth_path: str) -> dict[str, str]:
    return {"KEYCLOAK_URL": kc.base_url, "KEYCLOAK_REALM": kc.realm,
            "KEYCLOAK_AUTH_PATH": auth_path, "KEYCLOAK_CLIENT_ID": "shop-api",
            "KEYCLOAK_CLIENT_SECRET": env[SECRET_VARS["shop-api"]]}


def _verified_claims(kc: KeycloakEndpoints, config: ClientConfig) -> dict[str, Any]:
    meta = discover_keycloak(kc.base_url, kc.realm, "auto")
    keys = RemoteKeySet.from_discovery(meta.issuer)
    verifier = Verifier(issuer=meta.issuer, audience="notification-service", key_set=keys)
    source = ClientCredentialsSource(config)
    try:
        claims = verifier.verify(source.fetch().access_token)
    finally:
        source.close()
    ServicePolicy(allowed_clients={"shop-api"}).authorize(claims)
    return dict(claims.items())


@pytest.mark.parametrize("auth_path", ["/auth", "auto", "auth/"])
def test_legacy_path_from_env_resolves_and_tokens_verify(
        keycloak_auth: KeycloakEndpoints, keycloak_env: dict[str, str], auth_path: str) -> None:
    config = ClientConfig.from_env(_environ(keycloak_auth, keycloak_env, auth_path)).resolved()
    assert config.issuer == keycloak_auth.issuer
    assert config.issuer.endswith("/auth/realms/techstore")
    assert config.token_endpoint == keycloak_auth.token_endpoint
    claims = _verified_claims(keycloak_auth, config)
    assert claims["iss"] == keycloak_auth.issuer
    assert claims["azp"] == "shop-api"


@pytest.mark.parametrize("auth_path", [None, "auto"])
def test_auto_discovery_finds_the_keys_under_auth(
        keycloak_auth: KeycloakEndpoints, auth_path: str | None) -> None:
    meta = discover_keycloak(keycloak_auth.base_url, "techstore", auth_path)
    assert (meta.issuer, meta.jwks_uri, meta.token_endpoint) == (
        keycloak_auth.issuer, keycloak_auth.jwks_uri, keycloak_auth.token_endpoint)
    keys = RemoteKeySet.from_discovery(meta.issuer)
    assert keys.jwks_uri == keycloak_auth.jwks_uri
    assert keys.refresh() is True
    assert keys.stats["keys"] >= 1


def test_auto_prefers_the_modern_layout_on_a_modern_keycloak(
        keycloak: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    config = ClientConfig.from_env(_environ(keycloak, keycloak_env, "auto")).resolved()
    assert config.issuer == keycloak.issuer
    assert "/auth/" not in config.issuer


def test_modern_path_against_the_legacy_server_fails_discovery(
        keycloak_auth: KeycloakEndpoints) -> None:
    with pytest.raises(DiscoveryError) as failed:
        discover_keycloak(keycloak_auth.base_url, "techstore", "")
    assert failed.value.code == "discovery_failed"


@pytest.mark.anyio
async def test_auto_resolves_asynchronously_too(
        keycloak_auth: KeycloakEndpoints, keycloak_env: dict[str, str]) -> None:
    config = await ClientConfig.from_env(
        _environ(keycloak_auth, keycloak_env, "auto")).aresolved()
    assert config.token_endpoint == keycloak_auth.token_endpoint
    keys = await RemoteKeySet.afrom_discovery(keycloak_auth.issuer)
    assert await keys.arefresh() is True
