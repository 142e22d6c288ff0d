"""Django settings: ``SVCAUTH`` keys win over the seed's environment variables, which are
the defaults; what is missing or wrong is refused with a message naming it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_site  # configures Django settings: import before anything Django
import pytest
from django.test import override_settings

from svcauth import ConfigurationError
from svcauth.django import DjangoAuthSettings, service_guard, user_guard
from svcauth.django.middleware import ServiceAuthMiddleware
from svcauth.receiver import ServicePolicy, UserPolicy

ENV = {"KEYCLOAK_URL": "http://127.0.0.1:8080", "KEYCLOAK_REALM": "techstore",
       "KEYCLOAK_AUTH_PATH": "", "KEYCLOAK_CLIENT_ID": "notification-service"}
ISSUER = "http://127.0.0.1:8080/realms/techstore"


@pytest.fixture(autouse=True)
def site_settings() -> Iterator[None]:
    with override_settings(**django_site.SETTINGS):
        yield


def test_environment_alone_gives_the_keycloak_realm_and_every_default() -> None:
    config = DjangoAuthSettings.from_mapping({}, ENV)
    assert config == DjangoAuthSettings(
        issuer=ISSUER, jwks_uri=ISSUER + "/protocol/openid-connect/certs",
        audience=("notification-service",), algorithms=("RS256",), leeway=30.0,
        www_authenticate_realm="techstore", allowed_clients=None, required_roles=(),
        required_scopes=(), user_allowed_clients=(), exclude_paths=("/healthz",),
        include_code=False, allow_anonymous=False)


def test_settings_win_over_the_environment() -> None:
    config = DjangoAuthSettings.from_mapping(
        {"KEYCLOAK_URL": "http://127.0.0.2:9000/", "KEYCLOAK_REALM": "shop",
         "KEYCLOAK_AUTH_PATH": "auth", "AUDIENCE": ["inventory-service", "inventory"],
         "ALLOWED_CLIENTS": "shop-api, inventory-sync", "REQUIRED_ROLES": ["realm:svc"],
         "REQUIRED_SCOPES": "inventory", "LEEWAY": 5, "WWW_AUTHENTICATE_REALM": "inventory",
         "USER_ALLOWED_CLIENTS": None, "EXCLUDE_PATHS": ["/healthz", "/readyz"],
         "INCLUDE_CODE": True, "ALLOW_ANONYMOUS": True, "ALGORITHMS": ["ES256", "RS256"]},
        ENV)
    issuer = "http://127.0.0.2:9000/auth/realms/shop"
    assert config == DjangoAuthSettings(
        issuer=issuer, jwks_uri=issuer + "/protocol/openid-connect/certs",
        audience=("inventory-service", "inventory"), algorithms=("ES256", "RS256"),
        leeway=5.0, www_authenticate_realm="inventory",
        allowed_clients=("shop-api", "inventory-sync"), required_roles=("realm:svc",),
        required_scopes=("inventory",), user_allowed_clients=None,
        exclude_paths=("/healthz", "/readyz"), include_code=True, allow_anonymous=True)


def test_public_url_is_the_issuer_and_the_internal_url_serves_the_keys() -> None:
    config = DjangoAuthSettings.from_mapping(
        {}, {**ENV, "KEYCLOAK_URL": "http://keycloak:8080",
             "KEYCLOAK_PUBLIC_URL": "https://sso.example"})
    assert config.issuer == "https://sso.example/realms/techstore"
    assert config.jwks_uri == "http://keycloak:8080/realms/techstore/protocol/openid-connect/certs"


def test_an_oidc_issuer_needs_its_jwks_uri() -> None:
    env = {"OIDC_ISSUER": "https://idp.example", "KEYCLOAK_CLIENT_ID": "orders"}
    with pytest.raises(ConfigurationError) as missing:
        DjangoAuthSettings.from_mapping({}, env)
    assert missing.value.code == "config_missing" and "JWKS_URI" in missing.value.message
    config = DjangoAuthSettings.from_mapping({}, {**env, "SVCAUTH_JWKS_URI": "https://idp.example/k"})
    assert (config.issuer, config.jwks_uri, config.www_authenticate_realm) == (
        "https://idp.example", "https://idp.example/k", "svcauth")


@pytest.mark.parametrize(("svcauth", "env", "code", "names"), [
    ({}, {k: v for k, v in ENV.items() if k != "KEYCLOAK_CLIENT_ID"}, "config_missing", "AUDIENCE"),
    ({}, {k: v for k, v in ENV.items() if k != "KEYCLOAK_URL"}, "config_missing", "KEYCLOAK_URL"),
    ({}, {k: v for k, v in ENV.items() if k != "KEYCLOAK_REALM"}, "config_missing",
     "KEYCLOAK_REALM"),
    ({"AUDIANCE": "x"}, ENV, "config_invalid", "AUDIANCE"),
    ({"KEYCLOAK_AUTH_PATH": "auto"}, ENV, "config_invalid", "auto"),
    ({"INCLUDE_CODE": "yes"}, ENV, "config_invalid", "INCLUDE_CODE"),
    ({"REQUIRED_ROLES": [1]}, ENV, "config_invalid", "REQUIRED_ROLES"),
    ({"KEYCLOAK_URL": "127.0.0.1:8080"}, ENV, "config_invalid", "Keycloak URL"),
], ids=["no_audience", "no_url", "no_realm", "unknown_key", "auto_path", "bool", "roles", "url"])
def test_missing_or_wrong_settings_are_refused_by_name(
    svcauth: dict[str, Any], env: dict[str, str], code: str, names: str,
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        DjangoAuthSettings.from_mapping(svcauth, env)
    assert refused.value.code == code
    assert names in refused.value.message


def test_guards_are_built_from_settings_and_env_and_rebuilt_when_settings_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with override_settings(SVCAUTH={"ALLOWED_CLIENTS": ["shop-api"],
                                    "USER_ALLOWED_CLIENTS": ["storefront"],
                                    "REQUIRED_ROLES": ["notification-service:notifications:send"]}):
        guard, users = service_guard(), user_guard()
        assert service_guard() is guard  # cached
        assert isinstance(guard.policy, ServicePolicy) and isinstance(users.policy, UserPolicy)
        assert guard.policy.allowed_clients == frozenset({"shop-api"})
        assert guard.policy.required_roles == frozenset({"notification-service:notifications:send"})
        assert users.policy.allowed_clients == frozenset({"storefront"})
        assert users.verifier is guard.verifier  # one key set, one token cache
        assert guard.verifier.issuer == ISSUER
        assert guard.verifier.audiences == frozenset({"notification-service"})
        assert guard.verifier.key_set.jwks_uri == ISSUER + "/protocol/openid-connect/certs"
        assert guard.realm == "techstore"
    with override_settings(SVCAUTH={"AUDIENCE": "shop-api", "WWW_AUTHENTICATE_REALM": "shop"}):
        rebuilt = service_guard()
        assert rebuilt is not guard
        assert rebuilt.verifier.audiences == frozenset({"shop-api"})
        assert rebuilt.policy.allowed_clients is None and rebuilt.realm == "shop"


def test_a_wrong_guard_setting_is_refused_when_the_middleware_is_built() -> None:
    with override_settings(SVCAUTH={"GUARD": 42}), pytest.raises(ConfigurationError) as refused:
        ServiceAuthMiddleware(lambda request: None)
    assert "SVCAUTH['GUARD']" in refused.value.message
    with override_settings(SVCAUTH={"GUARD": "integration_kit.make_guard", "EXCLUDE_PATHS": "/a, /b"}):
        middleware = ServiceAuthMiddleware(lambda request: None)
    assert middleware.exclude_paths == frozenset({"/a", "/b"})


def test_the_system_check_reports_settings_that_cannot_build_a_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from svcauth.django.apps import check_settings

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with override_settings(SVCAUTH={"AUDIENCE": "orders"}):
        assert check_settings() == []
    with override_settings(SVCAUTH={"AUDIANCE": "orders"}):
        errors = check_settings()
    assert [error.id for error in errors] == ["svcauth.E001"]
    assert "AUDIANCE" in errors[0].msg


def test_the_user_guard_names_no_application_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with override_settings(SVCAUTH={}), pytest.raises(ConfigurationError) as refused:
        user_guard()
    assert refused.value.code == "config_missing"
    assert "USER_ALLOWED_CLIENTS" in refused.value.message
