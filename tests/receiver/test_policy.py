"""ServicePolicy and UserPolicy: one row per decision, each asserting the exact code."""

from __future__ import annotations

from typing import Any

import pytest
from receiver_support import DROP, service_claims

from svcauth._errors import ConfigurationError, ForbiddenError
from svcauth.receiver import (
    ServiceIdentity,
    ServicePolicy,
    UserIdentity,
    UserPolicy,
    rfc9068_service_account,
)


def _user_claims(**overrides: Any) -> dict[str, Any]:
    claims = service_claims(azp="storefront", client_id=DROP, clientHost=DROP,
                            preferred_username="alice", email="alice@example.com",
                            sid="s-1", sub="user-1")
    claims.update(overrides)
    return claims


SERVICE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str | None, tuple[str, ...]]] = [
    ("service account, no requirements", {}, {}, None, ()),
    ("user token", {}, {"client_id": DROP}, "not_service_account", ()),
    ("client_id differs from azp", {}, {"client_id": "shop-api"}, "not_service_account", ()),
    ("client_id not a string", {}, {"client_id": 5}, "not_service_account", ()),
    ("allowed caller", {"allowed_clients": {"inventory-sync", "shop-api"}}, {}, None, ()),
    ("caller not allowed (reporting-job)", {"allowed_clients": {"inventory-sync"}},
     {"azp": "reporting-job", "client_id": "reporting-job"}, "unauthorized_service", ()),
    ("client role held", {"required_roles": {"notification-service:notifications:send"}}, {},
     None, ()),
    ("client role missing", {"required_roles": {"notification-service:notifications:admin"}},
     {}, "insufficient_scope", ("notification-service:notifications:admin",)),
    ("role of another client does not count", {"required_roles": {"shop-api:notifications:send"}},
     {}, "insufficient_scope", ("shop-api:notifications:send",)),
    ("realm role held", {"required_roles": {"realm:offline_access"}}, {}, None, ()),
    ("realm role missing", {"required_roles": {"realm:admin"}}, {}, "insufficient_scope",
     ("realm:admin",)),
    ("scope held (string)", {"required_scopes": {"email"}}, {}, None, ()),
    ("scope held (scp list)", {"required_scopes": {"orders:read"}},
     {"scope": DROP, "scp": ["orders:read"]}, None, ()),
    ("scope missing", {"required_scopes": {"orders:write"}}, {}, "insufficient_scope",
     ("orders:write",)),
    ("role and scope missing", {"required_roles": {"realm:x"}, "required_scopes": {"y"}}, {},
     "insufficient_scope", ("realm:x", "y")),
    ("roles claim malformed", {"required_roles": {"realm:x"}},
     {"realm_access": {"roles": "x"}}, "insufficient_scope", ("realm:x",)),
]


@pytest.mark.parametrize(("name", "options", "overrides", "code", "required"), SERVICE_CASES,
                         ids=[c[0] for c in SERVICE_CASES])
def test_service_policy(name: str, options: dict[str, Any], overrides: dict[str, Any],
                        code: str | None, required: tuple[str, ...]) -> None:
    policy = ServicePolicy(**options)
    claims = service_claims(**overrides)
    if code is None:
        identity = policy.authorize(claims)
        assert isinstance(identity, ServiceIdentity)
        assert identity.client_id == claims["azp"]
        return
    with pytest.raises(ForbiddenError) as info:
        policy.authorize(claims)
    assert info.value.code == code and info.value.required == required
    assert info.value.status == 403


def test_refusal_messages_are_the_seeds() -> None:
    messages = {}
    for options, claims in (
        ({}, service_claims(client_id=DROP)),
        ({"allowed_clients": ["x"]}, service_claims()),
        ({"required_scopes": ["nope"]}, service_claims()),
    ):
        with pytest.raises(ForbiddenError) as info:
            ServicePolicy(**options).authorize(claims)
        messages[info.value.code] = info.value.message
    assert messages == {
        "not_service_account": "This endpoint only accepts service account tokens",
        "unauthorized_service": "Unauthorized service",
        "insufficient_scope": "Insufficient scope",
    }


def test_identity_lists_roles_and_scopes() -> None:
    identity = ServicePolicy().authorize(service_claims())
    assert identity.roles == frozenset({
        "realm:offline_access", "realm:default-roles-techstore",
        "notification-service:notifications:send", "account:view-profile"})
    assert identity.scopes == frozenset({"email", "profile"})
    assert identity.subject == "3f1c0b1e-0000-4000-8000-000000000001"
    assert "3f1c0b1e" not in repr(identity).split("subject=")[0]


def test_rfc9068_rule_admits_sub_equal_client_id() -> None:
    claims = {"iss": "x", "sub": "billing", "client_id": "billing", "scope": "invoices:read"}
    policy = ServicePolicy(service_account_rule=ServicePolicy.RFC9068, allowed_clients=["billing"],
                           required_scopes=["invoices:read"])
    assert policy.authorize(claims).client_id == "billing"
    assert rfc9068_service_account(claims)
    with pytest.raises(ForbiddenError) as info:
        policy.authorize({**claims, "sub": "user-1"})
    assert info.value.code == "not_service_account"


def test_rule_by_name() -> None:
    policy = ServicePolicy(service_account_rule="rfc9068")
    assert policy.authorize({"sub": "b", "client_id": "b"}).client_id == "b"
    assert ServicePolicy(service_account_rule="keycloak").is_service_account is \
        ServicePolicy.KEYCLOAK


def test_callable_rule() -> None:
    policy = ServicePolicy(service_account_rule=lambda c: c.get("gty") == "client-credentials")
    assert policy.authorize({"gty": "client-credentials", "azp": "a"}).client_id == "a"
    with pytest.raises(ForbiddenError):
        policy.authorize({"gty": "password", "azp": "a"})


USER_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = [
    ("storefront user", {}, {}, None),
    ("service account refused", {}, {"client_id": "storefront"}, "not_user_token"),
    ("no sub", {}, {"sub": None}, "not_user_token"),
    ("other client", {}, {"azp": "admin-console"}, "unauthorized_client"),
    ("any client", {"allowed_clients": None}, {"azp": "admin-console"}, None),
    ("realm role held", {"required_roles": ["realm:offline_access"]}, {}, None),
    ("realm role missing", {"required_roles": ["realm:customer"]}, {}, "insufficient_scope"),
]


@pytest.mark.parametrize(("name", "options", "overrides", "code"), USER_CASES,
                         ids=[c[0] for c in USER_CASES])
def test_user_policy(name: str, options: dict[str, Any], overrides: dict[str, Any],
                     code: str | None) -> None:
    policy = UserPolicy(**{"allowed_clients": ("storefront",), **options})
    claims = _user_claims(**overrides)
    if code is None:
        identity = policy.authorize(claims)
        assert isinstance(identity, UserIdentity)
        assert (identity.subject, identity.username, identity.email) == (
            "user-1", "alice", "alice@example.com")
        return
    with pytest.raises(ForbiddenError) as info:
        policy.authorize(claims)
    assert info.value.code == code
    if code == "not_user_token":
        assert info.value.message == "This endpoint only accepts user tokens"


@pytest.mark.parametrize("bad", [{"required_roles": ["norole"]}, {"required_roles": [":x"]},
                                 {"required_roles": ["x:"]}, {"allowed_clients": []},
                                 {"required_scopes": [""]},
                                 {"service_account_rule": "okta"}])
def test_policy_configuration_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        ServicePolicy(**bad)
