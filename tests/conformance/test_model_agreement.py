"""One realm model: the linter (and apply) and the dev IdP read every corpus file, valid or
broken, the same way, field by field; and the dev IdP names what it does not emulate."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
from corpus import BROKEN_FILES, REALM_FILES

from svcauth._envfile import load_env_file
from svcauth._errors import ConfigurationError
from svcauth.devidp import DevIdP, load_realm
from svcauth.devidp._coverage import unsupported
from svcauth.keycloak._lint import devidp_findings, lint_realm
from svcauth.keycloak._realm import load_realm_file
from svcauth.realm import Realm, realm_from_dict

ROOT = Path(__file__).resolve().parents[2]
TECHSTORE = ROOT / "deploy/keycloak/techstore-realm.json"
ALL_FILES = [*REALM_FILES, TECHSTORE, *BROKEN_FILES]


def _outcome(load: object) -> Realm | tuple[str, str]:
    try:
        realm = load() if callable(load) else None
    except ConfigurationError as exc:
        return (exc.code, exc.message)
    assert isinstance(realm, Realm)
    return realm


DEV_ENV = load_env_file(ROOT / "deploy/dev.env")


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_linter_apply_and_dev_idp_read_the_same_realm_field_by_field(path: Path) -> None:
    linted = _outcome(lambda: load_realm_file(path).model)  # placeholders kept, as lint reads
    served = _outcome(lambda: load_realm(path, {}))
    applied = _outcome(lambda: load_realm_file(path, DEV_ENV).model)
    served_env = _outcome(lambda: load_realm(path, DEV_ENV))
    if isinstance(linted, tuple) or isinstance(served, tuple):
        assert linted == served == applied == served_env  # all refuse, same code and message
        assert path in BROKEN_FILES
        return
    assert path not in BROKEN_FILES
    assert isinstance(applied, Realm) and isinstance(served_env, Realm)
    for f in dataclasses.fields(Realm):
        assert getattr(applied, f.name) == getattr(served_env, f.name), f.name
        if f.name != "unresolved":  # lint does not replace placeholders, so has none left
            assert getattr(linted, f.name) == getattr(served, f.name), f.name
    view = load_realm_file(path)
    for client in view.clients:
        model = served.clients[client.client_id]
        assert (client.public, client.service_account, dict(client.attributes),
                client.default_client_scopes, client.protocol_mappers, client.redirect_uris) == \
            (model.public, model.service_accounts, dict(model.attributes),
             model.given_default_scopes, model.mappers, model.redirect_uris)
    assert view.access_token_lifespan == served.access_token_lifespan


@pytest.mark.parametrize(("path", "field"), [
    (p, f) for p, f in ((BROKEN_FILES[0], "clients[0].serviceAccountsEnabled"),
                        (BROKEN_FILES[1], "realm.accessTokenLifespan"),
                        (BROKEN_FILES[2], "users[0].enabled"))
], ids=["boolean", "number", "user-boolean"])
def test_broken_values_are_refused_naming_the_field(path: Path, field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_realm(path, {})
    assert info.value.code == "config_invalid"
    assert field in info.value.message


def test_broken_files_are_the_ones_listed() -> None:
    assert [p.name for p in BROKEN_FILES] == [
        "bad-boolean.json", "bad-number.json", "bad-user-boolean.json", "no-realm-name.json"]


@pytest.mark.parametrize("path", [*REALM_FILES, TECHSTORE], ids=[p.name for p in [*REALM_FILES, TECHSTORE]])
def test_no_feature_of_the_corpus_is_unsupported(path: Path) -> None:
    realm = load_realm(path, {"ALICE_PASSWORD": "x"})
    assert [n.line() for n in unsupported(realm) if "placeholder" not in n.message] == []
    assert devidp_findings(load_realm_file(path)) == []


def test_an_unsupported_mapper_is_named_at_start_up_and_by_lint(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    doc = {"realm": "r", "clients": [
        {"clientId": "svc", "secret": "s", "serviceAccountsEnabled": True,
         "standardFlowEnabled": False, "protocolMappers": [
             {"name": "js", "protocol": "openid-connect", "protocolMapper": "oidc-script-mapper",
              "config": {"claim.name": "x"}}]},
        {"clientId": "x509", "clientAuthenticatorType": "client-x509"}]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc), "utf-8")
    with caplog.at_level(logging.WARNING, logger="svcauth.devidp"):
        DevIdP(realm_from_dict(doc, {}))
    lines = [r.getMessage() for r in caplog.records if r.name == "svcauth.devidp"]
    assert lines == [
        "devidp does not emulate: client svc: protocolMappers[js]: mapper type "
        "'oidc-script-mapper': its claim is left out",
        "devidp does not emulate: client x509: clientAuthenticatorType: 'client-x509': every "
        "authentication is refused (supported: client-secret, client-jwt)",
    ]
    found = [(f.subject, f.field, f.rule, f.severity) for f in lint_realm(load_realm_file(path))
             + devidp_findings(load_realm_file(path)) if f.rule == "devidp-unsupported"]
    assert found == [("client svc", "protocolMappers[js]", "devidp-unsupported", "warning"),
                     ("client x509", "clientAuthenticatorType", "devidp-unsupported", "warning")]
