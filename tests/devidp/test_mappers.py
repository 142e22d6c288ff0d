"""Protocol mappers with Keycloak's config semantics (pure, no server): claim paths, JSON
types, switches, roles, groups and client scopes."""

from __future__ import annotations

from typing import Any

import pytest

from svcauth.devidp._mappers import map_value, split_claim_path, wants
from svcauth.devidp._tokens import Grant, access_token_claims, id_token_claims
from svcauth.realm import ProtocolMapper, invalid_scopes, realm_from_dict


@pytest.mark.parametrize(("path", "expected"), [
    ("a", ["a"]),
    ("a.b.c", ["a", "b", "c"]),
    ("a\\.b", ["a.b"]),
    ("resource_access.shop.roles", ["resource_access", "shop", "roles"]),
    ("x\\\\y", ["x\\y"]),
])
def test_claim_path_splits_on_unescaped_dots(path: str, expected: list[str]) -> None:
    assert split_claim_path(path) == expected


@pytest.mark.parametrize(("config", "value", "expected"), [
    ({"jsonType.label": "long"}, "42", 42),
    ({"jsonType.label": "long"}, "forty", "forty"),  # Keycloak keeps what it cannot convert
    ({"jsonType.label": "int"}, ["7", "8"], 7),  # not multivalued: the first value
    ({"jsonType.label": "boolean"}, "TRUE", True),
    ({"jsonType.label": "boolean"}, "yes", False),
    ({"jsonType.label": "String"}, True, "true"),
    ({"jsonType.label": "JSON"}, '{"a": [1]}', {"a": [1]}),
    ({"multivalued": "true", "jsonType.label": "long"}, ["1", "2"], [1, 2]),
    ({"multivalued": "true"}, [], None),
    ({}, None, None),
])
def test_json_type_and_multivalued(config: dict[str, str], value: Any, expected: Any) -> None:
    assert map_value(config, value) == expected


@pytest.mark.parametrize(("config", "kind", "lightweight", "expected"), [
    ({}, "access", False, False),  # absent: off on Keycloak 26.7.3 (tests/conformance)
    ({"access.token.claim": "True"}, "access", False, False),  # exactly "true" only
    ({}, "id", False, False),
    ({"id.token.claim": "true"}, "userinfo", False, True),  # userinfo follows the ID token
    ({"id.token.claim": "true", "userinfo.token.claim": "false"}, "userinfo", False, False),
    ({"access.token.claim": "false"}, "introspection", False, False),
    ({"access.token.claim": "true"}, "access", True, False),
    ({"access.token.claim": "true", "lightweight.claim": "true"}, "access", True, True),
])
def test_claim_switches(config: dict[str, str], kind: str, lightweight: bool,
                        expected: bool) -> None:
    assert wants(ProtocolMapper("m", "oidc-hardcoded-claim-mapper", config), kind,
                 lightweight=lightweight) is expected


def _realm(**client: Any) -> Any:
    return realm_from_dict({"realm": "r", "clientScopes": [
        {"name": "api", "protocolMappers": [
            {"name": "roles", "protocolMapper": "oidc-usermodel-realm-role-mapper",
             "config": {"claim.name": "roles", "multivalued": True,
                        "access.token.claim": True}}]},
        {"name": "extra", "attributes": {"include.in.token.scope": "false"}}],
        "defaultDefaultClientScopes": ["api"], "defaultOptionalClientScopes": ["extra"],
        "roles": {"realm": [{"name": "buyer"}]},
        "clients": [{"clientId": "c", "secret": "s", "serviceAccountsEnabled": True, **client}],
        "users": [{"username": "service-account-c", "enabled": True,
                   "serviceAccountClientId": "c", "realmRoles": ["buyer"]}]}, {})


def _claims(realm: Any, scope: str = "") -> dict[str, Any]:
    user = realm.service_account_user("c")
    grant = Grant(realm=realm, client=realm.clients["c"], user=user, issuer="https://i",
                  now=1000, scope=scope)
    return access_token_claims(grant, lifetime=60)


def test_own_client_scopes_without_built_ins_give_only_their_claims() -> None:
    claims = _claims(_realm())
    # No roles scope: no realm_access/aud; no service_account scope: no client_id. No basic
    # scope either, yet client credentials carry sub (Keycloak 26.7.3, tests/conformance).
    assert sorted(claims) == ["azp", "exp", "iat", "iss", "jti", "roles", "scope", "sub", "typ"]
    assert (claims["roles"], claims["scope"]) == (["buyer"], "api")


def test_optional_scope_is_added_when_asked_and_unknown_ones_are_invalid() -> None:
    realm = _realm()
    assert _claims(realm, "extra")["scope"] == "api"  # include.in.token.scope false
    assert invalid_scopes(realm, realm.clients["c"], "openid api extra") == []
    assert invalid_scopes(realm, realm.clients["c"], "profile extra") == ["profile"]


def test_listing_only_optional_scopes_drops_the_realm_defaults() -> None:
    realm = _realm(optionalClientScopes=["extra"])
    assert (realm.clients["c"].default_scopes, realm.clients["c"].optional_scopes) == \
        ((), ("extra",))
    assert "roles" not in _claims(realm)


def test_id_token_takes_only_mappers_with_id_token_claim() -> None:
    realm = realm_from_dict({"realm": "r", "clients": [
        {"clientId": "web", "publicClient": True, "directAccessGrantsEnabled": True,
         "protocolMappers": [
             {"name": "a", "protocolMapper": "oidc-hardcoded-claim-mapper",
              "config": {"claim.name": "in_id", "claim.value": "1", "id.token.claim": "true",
                         "access.token.claim": "false"}},
             {"name": "b", "protocolMapper": "oidc-audience-mapper",
              "config": {"included.custom.audience": "extra", "id.token.claim": "true"}}]}],
        "users": [{"username": "u", "enabled": True, "firstName": "U"}]}, {})
    grant = Grant(realm=realm, client=realm.clients["web"], user=realm.users["u"],
                  issuer="https://i", now=1000, scope="openid", session_id="s")
    access = access_token_claims(grant, lifetime=60)
    id_token = id_token_claims(grant, lifetime=60, access_token="x.y.z")
    assert "in_id" not in access and id_token["in_id"] == "1"
    assert id_token["aud"] == ["web", "extra"]
    assert (id_token["name"], id_token["given_name"]) == ("U", "U")
    assert "realm_access" not in id_token  # the roles mappers have no id.token.claim
