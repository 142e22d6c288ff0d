"""Keycloak's ``oidc-audience-mapper`` on a client: which audiences it adds to the access
token, and the realm file's two mappers (storefront -> shop-api, reporting-job ->
notification-service)."""

from __future__ import annotations

from typing import Any

import pytest
from devidp_support import claims_of, post, secret_form

from svcauth.devidp import DevIdP, Realm
from svcauth.devidp._realm import realm_from_dict


def _mapper(config: dict[str, str], kind: str = "oidc-audience-mapper") -> dict[str, Any]:
    # access.token.claim "true" unless the row says otherwise ("absent" rows delete it).
    return {"name": "m", "protocol": "openid-connect", "protocolMapper": kind,
            "config": {"access.token.claim": "true", **config}}


def _absent(config: dict[str, str]) -> dict[str, Any]:
    mapper = _mapper(config)
    del mapper["config"]["access.token.claim"]
    return mapper


# protocolMappers of a client -> audiences added to its access tokens
MAPPER_CASES = [
    ("client audience", [_mapper({"included.client.audience": "api"})], ("api",)),
    ("custom audience", [_mapper({"included.custom.audience": "https://x"})], ("https://x",)),
    ("client audience wins over custom",
     [_mapper({"included.client.audience": "api", "included.custom.audience": "other"})],
     ("api",)),
    ("access.token.claim false", [_mapper({"included.client.audience": "api",
                                           "access.token.claim": "false"})], ()),
    # Keycloak 26.7.3 adds no claim for a mapper without access.token.claim (the corpus'
    # hardcoded-claim and audience mappers without it, tests/conformance): off, not on.
    ("access.token.claim absent counts as off",
     [_absent({"included.client.audience": "api"})], ()),
    ("another mapper type", [_mapper({"included.client.audience": "api"},
                                     "oidc-hardcoded-claim-mapper")], ()),
    ("empty config", [_mapper({})], ()),
    ("two mappers, one duplicate",
     [_mapper({"included.client.audience": "a"}), _mapper({"included.custom.audience": "b"}),
      _mapper({"included.client.audience": "a"})], ("a", "b")),
]


@pytest.mark.parametrize(("name", "mappers", "expected"), MAPPER_CASES,
                         ids=[row[0] for row in MAPPER_CASES])
def test_audience_mapper_config_decides_added_audiences(
        name: str, mappers: list[dict[str, Any]], expected: tuple[str, ...]) -> None:
    realm = realm_from_dict({"realm": "r", "clients": [
        {"clientId": "c", "protocolMappers": mappers}]}, {})
    assert realm.clients["c"].added_audiences == expected


def test_mapped_audience_joins_role_audiences_and_makes_aud_an_array() -> None:
    realm = realm_from_dict({"realm": "r", "clients": [
        {"clientId": "c", "secret": "s", "serviceAccountsEnabled": True,
         "protocolMappers": [_mapper({"included.client.audience": "receiver"})]}]}, {})
    with DevIdP(realm) as idp:
        claims = claims_of(idp.mint_token("c"))
    assert claims["aud"] == ["account", "receiver"]
    assert "receiver" not in claims["resource_access"]


def test_reporting_job_token_names_notification_service_without_a_role(
        idp: DevIdP, dev_env: dict[str, str], realm: Realm) -> None:
    response = post(idp.token_endpoint, secret_form(dev_env, "reporting-job"))
    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert claims["aud"] == ["account", "notification-service"]
    assert set(claims["resource_access"]) == {"account"}
    assert realm.clients["reporting-job"].added_audiences == ("notification-service",)
    assert realm.clients["storefront"].added_audiences == ("shop-api",)

