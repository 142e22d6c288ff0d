"""The realm linter on the project's realm file and on hand-broken copies of it (one row per rule)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from svcauth._cli import main
from svcauth.keycloak._lint import lint_realm
from svcauth.keycloak._realm import load_realm_file, realm_from_dict

REALM_FILE = Path(__file__).resolve().parents[2] / "deploy/keycloak/techstore-realm.json"
STOREFRONT_WARNING = ("storefront", "directAccessGrantsEnabled", "password-grant", "warning")
"""What the password grant turned back on for storefront gives (the project realm: nothing)."""

Doc = dict[str, Any]


def _base() -> Doc:
    doc: Doc = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    return doc


def _client(doc: Doc, client_id: str) -> Doc:
    found: Doc = next(c for c in doc["clients"] if c["clientId"] == client_id)
    return found


def _set(client_id: str, key: str, value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        _client(doc, client_id)[key] = value
    return edit


def _attr(client_id: str, key: str, value: str) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        _client(doc, client_id).setdefault("attributes", {})[key] = value
    return edit


def _realm(key: str, value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        doc[key] = value
    return edit


def _drop_roles_scope(doc: Doc) -> None:
    # cart-reminder-job has one receiver (notification-service): exactly one finding.
    _client(doc, "cart-reminder-job")["defaultClientScopes"].remove("roles")


def _mapper_not_in_access_token(doc: Doc) -> None:
    # reporting-job holds no role of notification-service: the mapper is its only route.
    _client(doc, "reporting-job")["protocolMappers"] = [{
        "name": "aud", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
        "config": {"included.client.audience": "notification-service",
                   "access.token.claim": "false"}}]


def _mapper_unknown_client(doc: Doc) -> None:
    _client(doc, "cart-reminder-job")["protocolMappers"] = [{
        "name": "aud", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
        "config": {"included.client.audience": "notification-servic",
                   "access.token.claim": "true"}}]


def _literal_password(doc: Doc) -> None:
    alice = next(u for u in doc["users"] if u["username"] == "alice")
    alice["credentials"][0]["value"] = "hunter2"


def _drop_service_account_scope(doc: Doc) -> None:
    _client(doc, "payment-provider")["defaultClientScopes"].remove("service_account")


ROWS: list[tuple[str, Callable[[Doc], None], tuple[str, str, str, str]]] = [
    ("standard flow on a service account", _set("shop-api", "standardFlowEnabled", True),
     ("shop-api", "standardFlowEnabled", "service-account-standard-flow", "error")),
    ("standard flow absent counts as on", lambda d: _client(d, "shop-api").pop("standardFlowEnabled"),
     ("shop-api", "standardFlowEnabled", "service-account-standard-flow", "error")),
    ("implicit flow on a service account", _set("reporting-job", "implicitFlowEnabled", True),
     ("reporting-job", "implicitFlowEnabled", "service-account-implicit-flow", "error")),
    ("direct grants on a service account", _set("cart-reminder-job", "directAccessGrantsEnabled", True),
     ("cart-reminder-job", "directAccessGrantsEnabled", "service-account-direct-grants", "error")),
    ("public client with a service account", _set("payment-provider", "publicClient", True),
     ("payment-provider", "publicClient", "public-service-account", "error")),
    ("literal client secret", _set("shop-api", "secret", "s3cr3t-value"),
     ("shop-api", "secret", "literal-secret", "error")),
    ("secret with literal text around a placeholder", _set("shop-api", "secret", "x${SHOP_API_CLIENT_SECRET}"),
     ("shop-api", "secret", "literal-secret", "error")),
    ("placeholder with a literal default", _set("shop-api", "secret", "${SHOP_API_CLIENT_SECRET:dev}"),
     ("shop-api", "secret", "literal-secret", "error")),
    ("literal user password", _literal_password,
     ("user alice", "credentials[0].value", "literal-secret", "error")),
    ("client lifespan over 15 min", _attr("shop-api", "access.token.lifespan", "3600"),
     ("shop-api", "attributes.access.token.lifespan", "token-lifespan", "error")),
    ("refresh token for client credentials",
     _attr("reporting-job", "client_credentials.use_refresh_token", "true"),
     ("reporting-job", "attributes.client_credentials.use_refresh_token",
      "refresh-token-client-credentials", "error")),
    ("caller without the roles scope", _drop_roles_scope,
     ("cart-reminder-job", "defaultClientScopes", "audience-missing", "error")),
    ("audience mapper kept out of the access token", _mapper_not_in_access_token,
     ("reporting-job", "protocolMappers", "audience-missing", "error")),
    ("audience mapper naming no client", _mapper_unknown_client,
     ("cart-reminder-job", "protocolMappers[aud].included.client.audience",
      "audience-unknown-client", "error")),
    ("clientScopes array dropping built-ins",
     _realm("clientScopes", [{"name": "roles", "protocol": "openid-connect"}]),
     ("realm", "clientScopes", "client-scopes-dropped", "error")),
    ("wildcard redirect URI", _set("storefront", "redirectUris", ["http://127.0.0.1:8081/*"]),
     ("storefront", "redirectUris[0]", "wildcard-redirect", "error")),
    ("service account without the service_account scope", _drop_service_account_scope,
     ("payment-provider", "defaultClientScopes", "service-account-scope-missing", "warning")),
]


def _found(doc: Doc) -> list[tuple[str, str, str, str]]:
    return [(f.subject, f.field, f.rule, f.severity) for f in lint_realm(realm_from_dict(doc))]


def test_project_realm_file_has_no_finding() -> None:
    assert [(f.subject, f.field, f.rule, f.severity)
            for f in lint_realm(load_realm_file(REALM_FILE))] == []


def test_storefront_with_direct_access_grants_is_the_password_grant_warning() -> None:
    doc = _base()
    _client(doc, "storefront")["directAccessGrantsEnabled"] = True
    assert _found(doc) == [STOREFRONT_WARNING]


@pytest.mark.parametrize(("edit", "expected"), [(r[1], r[2]) for r in ROWS], ids=[r[0] for r in ROWS])
def test_each_broken_rule_gives_exactly_its_finding(edit: Callable[[Doc], None],
                                                    expected: tuple[str, str, str, str]) -> None:
    doc = copy.deepcopy(_base())
    edit(doc)
    assert _found(doc) == [expected]


def test_realm_lifespan_over_15_min_is_reported_for_each_service_client_without_override() -> None:
    doc = _base()
    doc["accessTokenLifespan"] = 1800
    _client(doc, "shop-api").setdefault("attributes", {})["access.token.lifespan"] = "300"
    found = [(s, f, r) for s, f, r, _ in _found(doc) if r == "token-lifespan"]
    assert found == [(c, "accessTokenLifespan (realm)", "token-lifespan")
                     for c in ("cart-reminder-job", "inventory-sync", "order-events-worker",
                               "payment-gateway-dpop",
                               "payment-provider", "reporting-job")]


def test_clientscopes_array_with_every_builtin_passes() -> None:
    doc = _base()
    doc["clientScopes"] = [{"name": n} for n in
                           ("acr", "basic", "email", "profile", "roles", "service_account",
                            "web-origins")]
    assert _found(doc) == []


def test_cli_prints_client_and_field_and_exits_1_on_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _base()
    _client(doc, "shop-api")["secret"] = "s3cr3t-value"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["keycloak", "lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "error [literal-secret] shop-api: secret: expected an ${ENV} placeholder, found a "
        "literal value",
        f"{path}: 1 error(s), 0 warning(s)",
    ]
    assert "s3cr3t-value" not in out


def test_cli_exits_0_on_the_project_realm_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keycloak", "lint", str(REALM_FILE)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{REALM_FILE}: 0 error(s), 0 warning(s)"


def test_keycloak_dev_delegates_to_the_local_keycloak_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keycloak", "dev", "status", "--name", "svcauth-lint-test-none"]) == 3
    assert capsys.readouterr().out == "svcauth-lint-test-none: not running (nothing recorded)\n"


def test_cli_devidp_flag_adds_what_the_dev_idp_does_not_emulate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _base()
    _client(doc, "reporting-job")["protocolMappers"].append(
        {"name": "pairwise", "protocol": "openid-connect",
         "protocolMapper": "oidc-sha256-pairwise-sub-mapper", "config": {}})
    path = tmp_path / "pairwise.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["keycloak", "lint", str(path)]) == 0
    assert "devidp-unsupported" not in capsys.readouterr().out
    assert main(["keycloak", "lint", "--devidp", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "warning [devidp-unsupported] client reporting-job: protocolMappers[pairwise]: mapper "
        "type 'oidc-sha256-pairwise-sub-mapper': its claim is left out",
        f"{path}: 0 error(s), 1 warning(s)",
    ]


def test_listed_service_account_user_without_scope_lists_gets_no_client_id_claim() -> None:
    # Keycloak 26.7.3 adds the service_account scope only when it creates the service-account
    # user itself (tests/conformance: str-flags, conf-svc): a file listing the user must name it.
    doc = _base()
    del _client(doc, "payment-provider")["defaultClientScopes"]
    found = [f for f in lint_realm(realm_from_dict(doc)) if f.rule == "service-account-scope-missing"]
    assert [(f.subject, f.field, f.severity) for f in found] == [
        ("payment-provider", "defaultClientScopes", "warning")]
    assert "Keycloak's import adds no service_account scope" in found[0].message
