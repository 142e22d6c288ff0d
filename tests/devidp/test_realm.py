"""Loading the realm file and dev.env: placeholders, built-in roles, and errors that name
what is missing without showing any value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from devidp_support import REALM_FILE

from svcauth._errors import ConfigurationError
from svcauth._placeholders import resolve_placeholders
from svcauth.devidp import load_env_file, load_realm, parse_env
from svcauth.devidp._realm import Realm


def test_every_placeholder_of_the_realm_is_in_dev_env(realm: Realm,
                                                      dev_env: dict[str, str]) -> None:
    assert realm.clients["shop-api"].secret == dev_env["SHOP_API_CLIENT_SECRET"]
    assert realm.users["alice"].password == dev_env["ALICE_PASSWORD"]
    assert "${" not in json.dumps([c.secret for c in realm.clients.values()])


def test_missing_variable_is_kept_literal_as_keycloak_does_and_named(
        dev_env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    # Keycloak's StringPropertyReplacer leaves an unresolvable ${NAME} as written (the old
    # expectation, a refused file, is not what Keycloak does); the dev IdP names it at start.
    env = {k: v for k, v in dev_env.items() if k != "REPORTING_JOB_CLIENT_SECRET"}
    realm = load_realm(REALM_FILE, env)
    assert realm.clients["reporting-job"].secret == "${REPORTING_JOB_CLIENT_SECRET}"
    assert realm.unresolved == (("clients[5].secret", "${REPORTING_JOB_CLIENT_SECRET}"),)
    from svcauth.devidp import DevIdP
    with caplog.at_level("WARNING", logger="svcauth.devidp"):
        DevIdP(realm)
    lines = [r.getMessage() for r in caplog.records if r.name == "svcauth.devidp"]
    assert lines == ["devidp does not emulate: realm: clients[5].secret: placeholder "
                     "${REPORTING_JOB_CLIENT_SECRET} has no value; kept as literal text, as "
                     "Keycloak's import keeps it"]
    for value in env.values():
        if len(value) > 8:
            assert all(value not in line for line in lines)


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("${A}", {"A": "1"}, "1"),
    ("x-${A}-${B}", {"A": "1", "B": "2"}, "x-1-2"),
    ("${A:fallback}", {}, "fallback"),
    ("${A:fallback}", {"A": "set"}, "set"),
    ("no placeholder $A {A}", {}, "no placeholder $A {A}"),
    ("${role_uma_authorization}", {}, "${role_uma_authorization}"),
    ("resource_access.${client_id}.roles", {}, "resource_access.${client_id}.roles"),
    ("${A,B}", {"B": "2"}, "2"),
    ("${env.A}", {"A": "1"}, "1"),
    ("${A:${B}}", {"B": "2"}, "2"),
    ("${}", {}, "${}"),
    ("${A", {"A": "1"}, "${A"),
])
def test_placeholder_resolution(text: str, env: dict[str, str], expected: str) -> None:
    assert resolve_placeholders({"k": [text]}, env) == {"k": [expected]}


def test_realm_model(realm: Realm) -> None:
    assert realm.name == "techstore"
    assert realm.access_token_lifespan == 300
    assert realm.clients["inventory-sync"].authenticator == "client-jwt"
    assert realm.clients["inventory-sync"].jwks[0]["kid"] == \
        "-lo7x6uKvCjH1q9q89WRFYdCasbF79_g645xTu4Dl40"
    storefront = realm.clients["storefront"]  # a confidential BFF, no password grant
    assert (storefront.public, storefront.direct_access) == (False, False)
    assert realm.service_account_user("notification-service") is None
    sa = realm.service_account_user("shop-api")
    assert sa is not None and sa.username == "service-account-shop-api"


def test_default_roles_composite_expands_like_keycloak(realm: Realm) -> None:
    user = realm.users["service-account-reporting-job"]
    realm_roles, client_roles = realm.effective_roles(user)
    assert realm_roles == ["default-roles-techstore", "offline_access", "uma_authorization"]
    assert client_roles == {"account": ["manage-account", "manage-account-links",
                                        "view-profile"]}


def test_service_account_user_is_created_when_the_file_lists_none(
        dev_env: dict[str, str]) -> None:
    from svcauth.devidp._realm import realm_from_dict

    data = json.loads(REALM_FILE.read_text())
    data["users"] = [u for u in data["users"] if u["username"] != "service-account-shop-api"]
    realm = realm_from_dict(data, dev_env)
    user = realm.service_account_user("shop-api")
    assert user is not None
    assert realm.effective_roles(user)[1] == {"account": ["manage-account",
                                                          "manage-account-links",
                                                          "view-profile"]}


def test_unreadable_or_invalid_realm_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as missing:
        load_realm(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError) as invalid:
        load_realm(bad)
    assert (missing.value.code, invalid.value.code) == ("config_missing", "config_invalid")


@pytest.mark.parametrize(("text", "expected"), [
    ("A=1\nB=two words\n", {"A": "1", "B": "two words"}),
    ("# comment\n\nexport A=1\n", {"A": "1"}),
    ("A=\"quoted # not comment\"\nB='single'\n", {"A": "quoted # not comment", "B": "single"}),
    ("A=value # trailing comment\n", {"A": "value"}),
    ("A=\n", {"A": ""}),
    ("A=x=y\n", {"A": "x=y"}),
])
def test_env_file_syntax(text: str, expected: dict[str, str]) -> None:
    assert parse_env(text) == expected


@pytest.mark.parametrize("text", ["just words\n", "1A=x\n", "A=\"unclosed\n"])
def test_env_file_errors_name_the_line_not_the_value(text: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_env(text, source="dev.env")
    assert info.value.message.startswith("dev.env:1: ")
    assert "unclosed" not in info.value.message


def test_dev_env_file_loads(dev_env: dict[str, str]) -> None:
    assert dev_env["KEYCLOAK_REALM"] == "techstore"
    assert dev_env["KEYCLOAK_AUTH_PATH"] == ""
    with pytest.raises(ConfigurationError):
        load_env_file("/nonexistent/dev.env")
