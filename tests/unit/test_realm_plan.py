"""The pure planner: desired state vs current state -> exactly the changes, printed as diff lines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from svcauth.keycloak._plan import ClientState, RealmState, desired_state, plan
from svcauth.keycloak._realm import realm_from_dict

ROOT = Path(__file__).resolve().parents[2]
ENV = {"SHOP_API_CLIENT_SECRET": "dev-shop", "NOTIFICATION_SERVICE_CLIENT_SECRET": "dev-notif",
       "CART_REMINDER_JOB_CLIENT_SECRET": "dev-cart", "PAYMENT_PROVIDER_CLIENT_SECRET": "dev-pay",
       "REPORTING_JOB_CLIENT_SECRET": "dev-rep", "ALICE_PASSWORD": "dev-alice",
       "PAYMENT_GATEWAY_DPOP_CLIENT_SECRET": "dev-dpop",
       "ORDER_EVENTS_WORKER_CLIENT_SECRET": "dev-worker", "RABBITMQ_CLIENT_SECRET": "dev-rmq",
       "ADMIN_PASSWORD": "dev-admin", "MARIO_PASSWORD": "dev-mario",
       "BLOCKED_PASSWORD": "dev-blocked"}


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((ROOT / "deploy/keycloak/techstore-realm.json").read_text())
    return doc


def _desired(doc: dict[str, Any] | None = None) -> RealmState:
    return desired_state(realm_from_dict(doc or _doc(), ENV))


def _with_client(state: RealmState, client_id: str, **changes: Any) -> RealmState:
    clients = dict(state.clients)
    clients[client_id] = dataclasses.replace(clients[client_id], **changes)
    return dataclasses.replace(state, clients=clients)


def _lines(desired: RealmState, current: RealmState | None) -> list[str]:
    return [c.line() for c in plan(desired, current)]


def test_identical_states_plan_nothing() -> None:
    assert plan(_desired(), _desired()) == []


def test_missing_realm_plans_realm_clients_roles_and_service_account_roles_in_order() -> None:
    lines = _lines(_desired(), None)
    assert lines[0] == "+ realm techstore"
    clients = [line for line in lines if line.startswith("+ client ")]
    assert clients == [f"+ client {c['clientId']}" for c in _doc()["clients"]]
    first_role = lines.index("+ role notification-service notifications:send")
    first_mapping = lines.index("+ service-account shop-api role notification-service:notifications:send")
    assert lines.index(clients[-1]) < first_role < first_mapping
    assert "+ service-account reporting-job role realm:default-roles-techstore" in lines
    assert not any(line.startswith("~") for line in lines)


def test_flipped_flag_and_attribute_print_old_and_new() -> None:
    desired = _desired()
    shop = desired.clients["shop-api"]
    current = _with_client(desired, "shop-api",
                           fields={**shop.fields, "standardFlowEnabled": True},
                           attributes={**shop.attributes,
                                       "client_credentials.use_refresh_token": "true"})
    assert _lines(desired, current) == [
        "~ client shop-api standardFlowEnabled: true -> false",
        '~ client shop-api attributes.client_credentials.use_refresh_token: "true" -> "false"',
    ]


def test_secret_change_prints_stars_never_the_values() -> None:
    desired = _desired()
    current = _with_client(desired, "shop-api", secret="old-secret-value")
    changes = plan(desired, current)
    assert [c.line() for c in changes] == ["~ client shop-api secret: *** -> ***"]
    assert "old-secret-value" not in repr(changes) and "dev-shop" not in repr(changes)


def test_lists_compare_as_sets_keycloak_reorders_them() -> None:
    doc = _doc()
    storefront = next(c for c in doc["clients"] if c["clientId"] == "storefront")
    storefront["redirectUris"] = ["http://127.0.0.1:8081/a", "http://127.0.0.1:8081/b"]
    desired = _desired(doc)
    current = _with_client(desired, "storefront", fields={
        **desired.clients["storefront"].fields,
        "redirectUris": ["http://127.0.0.1:8081/b", "http://127.0.0.1:8081/a"]})
    assert plan(desired, current) == []


def test_roles_scopes_mappers_and_mappings_are_added_and_removed() -> None:
    desired = _desired()
    notif = desired.clients["notification-service"]
    shop = desired.clients["shop-api"]
    assert shop.account_client_roles is not None and shop.default_scopes is not None
    current = _with_client(desired, "notification-service",
                           roles={"notifications:send": "old text", "notifications:purge": None})
    current = _with_client(current, "shop-api",
                           default_scopes=shop.default_scopes - {"service_account"} | {"phone"},
                           mappers={**shop.mappers,
                                    "stray": {"protocolMapper": "oidc-audience-mapper",
                                              "config": {}}},
                           account_client_roles=frozenset({"notification-service:notifications:read",
                                                           "realm-management:view-users",
                                                           "rabbitmq:rabbitmq.write:*/orders"}))
    assert notif.roles["notifications:send"] == "Send order and reminder notifications"
    assert _lines(desired, current) == [
        "+ client shop-api defaultClientScopes service_account",
        "- client shop-api defaultClientScopes phone",
        "- mapper shop-api stray",
        "+ role notification-service notifications:read",
        '~ role notification-service notifications:send description: "old text" -> '
        '"Send order and reminder notifications"',
        "- role notification-service notifications:purge",
        "+ service-account shop-api role inventory-service:inventory:read",
        "+ service-account shop-api role inventory-service:inventory:reserve",
        "+ service-account shop-api role notification-service:notifications:send",
        "- service-account shop-api role notification-service:notifications:read",
    ]


def test_mapper_config_change_names_the_key() -> None:
    doc = _doc()
    shop = next(c for c in doc["clients"] if c["clientId"] == "shop-api")
    shop["protocolMappers"] = [{"name": "aud", "protocol": "openid-connect",
                                "protocolMapper": "oidc-audience-mapper",
                                "config": {"included.client.audience": "notification-service",
                                           "access.token.claim": "true"}}]
    desired = _desired(doc)
    current = _with_client(desired, "shop-api", mappers={"aud": {
        "protocolMapper": "oidc-audience-mapper",
        "config": {"included.client.audience": "notification-service",
                   "access.token.claim": "false"}}})
    assert _lines(desired, current) == [
        '~ mapper shop-api aud config.access.token.claim: "false" -> "true"']


def test_realm_setting_change_and_unmanaged_client_left_alone() -> None:
    desired = _desired()
    extra = ClientState(fields={"enabled": True}, attributes={})
    current = dataclasses.replace(desired, settings={**desired.settings, "accessTokenLifespan": 600},
                                  clients={**desired.clients, "someone-elses": extra})
    assert _lines(desired, current) == ["~ realm techstore accessTokenLifespan: 600 -> 300"]


def test_placeholders_resolve_from_the_environment() -> None:
    assert _desired().clients["shop-api"].secret == "dev-shop"
    assert _desired().clients["inventory-sync"].secret is None


# -- the Admin REST shell, over a mock transport ----------------------------------------------

def test_admin_credentials_come_from_bootstrap_then_legacy_variables() -> None:
    from svcauth._errors import ConfigurationError
    from svcauth.keycloak._admin import AdminCredentials

    both = {"KC_BOOTSTRAP_ADMIN_USERNAME": "a", "KC_BOOTSTRAP_ADMIN_PASSWORD": "pw-a",
            "KEYCLOAK_ADMIN_USERNAME": "b", "KEYCLOAK_ADMIN_PASSWORD": "pw-b"}
    assert AdminCredentials.from_env(both).username == "a"
    legacy = {k: v for k, v in both.items() if k.startswith("KEYCLOAK")}
    assert AdminCredentials.from_env(legacy).username == "b"
    assert "pw-b" not in repr(AdminCredentials.from_env(legacy))
    try:
        AdminCredentials.from_env({"KC_BOOTSTRAP_ADMIN_USERNAME": "a"})
    except ConfigurationError as exc:
        assert exc.code == "config_missing"
    else:
        raise AssertionError("expected ConfigurationError")


def test_admin_client_logs_in_again_once_on_401_and_never_echoes_a_body() -> None:
    import httpx

    from svcauth._errors import SvcAuthError
    from svcauth.keycloak._admin import AdminClient, AdminCredentials

    calls: list[str] = []
    logins = iter(["t1", "t2"])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path} {request.headers.get('Authorization')}")
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": next(logins)})
        if request.headers["Authorization"] == "Bearer t1":
            return httpx.Response(401)
        if request.method == "POST":
            return httpx.Response(409, json={"errorMessage": "Client shop-api already exists"})
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        admin = AdminClient("http://kc.test/auth/", AdminCredentials("admin", "pw"), http=http)
        assert admin.get("/techstore") is None
        try:
            admin.post("/techstore/clients", {"clientId": "shop-api", "secret": "top-secret-value"})
        except SvcAuthError as exc:
            assert exc.code == "admin_api_error"
            assert exc.message == ("admin POST /techstore/clients: expected success, found HTTP 409: "
                                   "Client shop-api already exists")
        else:
            raise AssertionError("expected SvcAuthError")
    assert calls == ["POST /auth/realms/master/protocol/openid-connect/token None",
                     "GET /auth/admin/realms/techstore Bearer t1",
                     "POST /auth/realms/master/protocol/openid-connect/token None",
                     "GET /auth/admin/realms/techstore Bearer t2",
                     "POST /auth/admin/realms/techstore/clients Bearer t2"]
