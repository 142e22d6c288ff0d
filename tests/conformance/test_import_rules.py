"""Keycloak 26.7 import rules the third-party corpus files exposed, checked on the model and on
the dev IdP's tokens (the corpus test compares the same files with a real Keycloak):

- deprecated pre-Keycloak-12 names (``applications``, ``applicationRoles``, ``oauthClients``,
  the realm and client ``defaultRoles`` lists) are converted as
  ``convertDeprecatedApplications``/``convertDeprecatedDefaultRoles`` convert them
  (microcks' sample realm, written for Keycloak 10);
- ``default-roles-<realm>`` only gets ``offline_access``/``uma_authorization`` when the file
  does not define those realm roles, and the account roles only when it has no ``account``
  client (quarkus-quickstarts' Keycloak 8 export: its service account's token carries
  ``default-roles-quarkus`` alone).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from corpus import claims_of

from svcauth.devidp import DevIdP
from svcauth.realm import realm_from_dict

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
