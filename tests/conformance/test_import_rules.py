"""Keycloak 26.7 import rules the third-party corpus files exposed, checked on the model and on
the dev IdP's tokens (the corpus test compares the same files with a real Keycloak):

- deprecated pre-Keycloak-12 names (``applications``, ``applicationRoles``, ``oauthClients``,
  the realm and client ``defaultRoles`` lists) are converted as
  ``convertDeprecatedApplications``/``convertDeprecatedDefaultRoles`` convert them
  (microcks' sample realm, written for Keycloak 10);
- ``default-roles-<realm>`` only gets ``offline_access``/``uma_authorization`` when the file
  does not define those realm roles, and the account roles only when it has no ``account``
  client (quarkus-quickstarts' Keycloak 8 export: its service account's token carries
  ``default-roles-quarkus`` alone);
- a file exported by Keycloak < 18 (< 25) without an ``acr`` (``basic``) scope gets it, on
  every OpenID Connect client, from the import migrations; a service account's user session
  carries the note ``clientId`` besides ``client_id`` (the quarkus export's "Client ID"
  mapper reads the old name).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from corpus import claims_of

from svcauth.devidp import DevIdP
from svcauth.realm import realm_from_dict
from svcauth.realm._legacy import exported_by

DEFAULT_FOUR = [(None, "offline_access"), (None, "uma_authorization"),
                ("account", "view-profile"), ("account", "manage-account")]


def _token(doc: dict[str, Any], client_id: str, secret: str) -> dict[str, Any]:
    with DevIdP(realm_from_dict(doc, {})) as idp:
        answer = httpx.post(idp.token_endpoint, data={
            "grant_type": "client_credentials", "client_id": client_id,
            "client_secret": secret}, timeout=10.0)
    assert answer.status_code == 200, answer.text
    return claims_of(answer.json()["access_token"])


def test_applications_become_clients_with_their_secret_and_service_account() -> None:
    doc = {"realm": "old", "applications": [
        {"name": "app", "bearerOnly": True, "defaultRoles": ["user"]},
        {"name": "svc", "secret": "s3", "publicClient": False, "serviceAccountsEnabled": True,
         "standardFlowEnabled": False}],
        "roles": {"application": {"app": [{"name": "user"}, {"name": "boss"}]}}}
    realm = realm_from_dict(doc, {})
    assert sorted(realm.clients) == ["account", "app", "svc"]
    assert realm.clients["svc"].secret == "s3" and realm.clients["svc"].service_accounts
    assert realm.clients["app"].bearer_only
    claims = _token(doc, "svc", "s3")
    # the service account Keycloak creates gets default-roles-old, which holds app/user
    assert sorted(claims["resource_access"]["app"]["roles"]) == ["user"]
    assert claims["azp"] == "svc"


def test_application_roles_of_a_user_are_its_client_roles_unless_both_are_given() -> None:
    doc = {"realm": "old", "clients": [{"clientId": "app"}], "users": [
        {"username": "a", "applicationRoles": {"app": ["x"]}},
        {"username": "b", "applicationRoles": {"app": ["x"]}, "clientRoles": {"app": ["y"]}}]}
    realm = realm_from_dict(doc, {})
    assert realm.users["a"].client_roles == {"app": ("x",)}
    assert realm.users["b"].client_roles == {"app": ("y",)}


def test_oauth_clients_get_consent_and_no_full_scope() -> None:
    realm = realm_from_dict({"realm": "old", "oauthClients": [{"name": "o", "secret": "s"}]}, {})
    assert realm.clients["o"].full_scope_allowed is False
    assert realm.raw["clients"][0]["consentRequired"] is True


def test_application_scope_mappings_and_composites_are_read_under_their_new_names() -> None:
    doc = {"realm": "old", "applications": [{"name": "app"}, {"name": "svc", "secret": "s"}],
           "applicationScopeMappings": {"app": [{"client": "svc", "roles": ["r"]}]},
           "roles": {"realm": [{"name": "top", "composites": {"application": {"app": ["r"]}}}],
                     "application": {"app": [{"name": "r"}]}}}
    realm = realm_from_dict(doc, {})
    assert realm.clients["svc"].role_scope == (("app", "r"),)
    assert realm.composites[(None, "top")] == (("app", "r"),)


def test_a_file_without_deprecated_names_is_left_as_it_is() -> None:
    doc = {"realm": "new", "clients": [{"clientId": "c"}]}
    assert realm_from_dict(doc).raw is doc  # no environment: no placeholder pass either
    assert realm_from_dict(doc, {}).raw == doc


@pytest.mark.parametrize(("doc", "expected"), [
    ({"realm": "r"}, DEFAULT_FOUR),
    ({"realm": "r", "roles": {"realm": [{"name": "offline_access"}]}}, DEFAULT_FOUR[1:]),
    ({"realm": "r", "roles": {"realm": [{"name": "uma_authorization"},
                                        {"name": "offline_access"}]}}, DEFAULT_FOUR[2:]),
    ({"realm": "r", "clients": [{"clientId": "account"}]}, DEFAULT_FOUR[:2]),
    ({"realm": "r", "clients": [{"clientId": "account"}], "roles": {"realm": [
        {"name": "offline_access"}, {"name": "uma_authorization"}]}}, []),
    ({"realm": "r", "clients": [{"clientId": "account"}], "roles": {"realm": [
        {"name": "offline_access"}, {"name": "uma_authorization"},
        {"name": "default-roles-r", "composites": {"realm": ["offline_access"]}}]}},
     [(None, "offline_access")]),
    ({"realm": "r", "defaultRoles": ["extra"], "clients": [
        {"clientId": "c", "defaultRoles": ["cr"]}]},
     [*DEFAULT_FOUR, (None, "extra"), ("c", "cr")]),
    ({"realm": "r", "defaultRole": {"name": "default-roles-r"}, "defaultRoles": ["extra"]},
     DEFAULT_FOUR),
], ids=["nothing-listed", "offline-listed", "both-listed", "account-listed", "all-listed",
        "own-composites", "deprecated-lists", "defaultRole-object-wins"])
def test_default_roles_hold_what_keycloaks_import_adds(doc: dict[str, Any],
                                                      expected: list[Any]) -> None:
    assert list(realm_from_dict(doc, {}).composites[(None, "default-roles-r")]) == expected


def test_a_service_account_of_an_old_export_gets_the_bare_default_role() -> None:
    doc = {"realm": "q", "clients": [
        {"clientId": "account"},
        {"clientId": "svc", "secret": "s", "serviceAccountsEnabled": True}],
        "roles": {"realm": [{"name": "offline_access"}, {"name": "uma_authorization"}]}}
    claims = _token(doc, "svc", "s")
    assert claims["realm_access"] == {"roles": ["default-roles-q"]}
    assert "resource_access" not in claims


OWN_SCOPES = [{"name": "email", "protocol": "openid-connect"}]


@pytest.mark.parametrize(("version", "scopes", "added"), [
    ("8.0.1", OWN_SCOPES, ["acr", "basic"]),
    ("17.0.1", OWN_SCOPES, ["acr", "basic"]),
    ("18.0.0", OWN_SCOPES, ["basic"]),
    ("24.0.5", OWN_SCOPES, ["basic"]),
    ("25.0.0", OWN_SCOPES, []),
    ("26.7.3", OWN_SCOPES, []),
    (None, OWN_SCOPES, []),
    ("8.0.1", [*OWN_SCOPES, {"name": "acr", "protocol": "openid-connect"}], ["basic"]),
], ids=["kc8", "kc17", "kc18", "kc24", "kc25", "kc26", "no-version", "own-acr"])
def test_older_exports_get_the_scopes_keycloaks_migrations_add(
        version: str | None, scopes: list[dict[str, str]], added: list[str]) -> None:
    doc: dict[str, Any] = {"realm": "m", "clientScopes": scopes, "clients": [
        {"clientId": "c", "defaultClientScopes": ["email"]},
        {"clientId": "s", "protocol": "saml"}]}
    if version is not None:
        doc["keycloakVersion"] = version
    realm = realm_from_dict(doc, {})
    assert list(realm.clients["c"].default_scopes) == ["email", *added]
    assert realm.clients["s"].default_scopes == ()
    assert [s for s in realm.default_scopes if s in ("acr", "basic")] == added


@pytest.mark.parametrize(("text", "expected"), [
    ("8.0.1", (8, 0, 1)), ("26.0", (26, 0, 0)), ("999.0.0-SNAPSHOT", (999, 0, 0)),
    ("x.y", None), (None, None)])
def test_the_exporting_version_is_read_from_its_numeric_parts(
        text: str | None, expected: tuple[int, int, int] | None) -> None:
    assert exported_by({"keycloakVersion": text}) == expected


def test_an_old_exports_session_note_mappers_and_acr_reach_the_service_account_token() -> None:
    doc = {"realm": "q", "keycloakVersion": "8.0.1",
           "clientScopes": [{"name": "email", "protocol": "openid-connect"}],
           "clients": [{"clientId": "svc", "secret": "s", "serviceAccountsEnabled": True,
                        "defaultClientScopes": ["email"], "protocolMappers": [
                            {"name": "Client ID", "protocol": "openid-connect",
                             "protocolMapper": "oidc-usersessionmodel-note-mapper",
                             "config": {"user.session.note": "clientId",
                                        "claim.name": "clientId", "jsonType.label": "String",
                                        "access.token.claim": "true"}}]}]}
    claims = _token(doc, "svc", "s")
    assert claims["clientId"] == "svc"
    assert claims["acr"] == "1"
    assert claims["scope"] == "email"  # acr and basic stay out of the scope claim


def test_what_the_old_names_hold_that_is_not_converted_is_named() -> None:
    from svcauth.devidp._coverage import unsupported
    doc = {"realm": "old", "applications": [{"name": "app", "claims": {"name": True}},
                                            {"name": "mapped", "claims": {"name": True},
                                             "protocolMappers": []}],
           "clientTemplates": [{"name": "t"}]}
    assert [n.line() for n in unsupported(realm_from_dict(doc, {}))] == [
        "devidp does not emulate: client app: claims: deprecated claims mask: not turned into "
        "protocol mappers as Keycloak's import turns it",
        "devidp does not emulate: realm: clientTemplates: deprecated client templates: not "
        "turned into client scopes as Keycloak's import turns them"]
