"""Django and DRF options over Django's test client: a key set that cannot be had, the
stable code in bodies, DRF's default exception handler, anonymous requests, excluded paths,
the middleware's identity reused by DRF, subclassed permissions, and no token in any log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import django_site  # configures Django settings: import before anything Django
import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, override_settings
from integration_kit import CASES, CHALLENGE, ROLE, claims, make_guard, secrets_in, token

from svcauth.django import drf
from svcauth.django.drf import ServicePermission, ServiceUser
from svcauth.receiver._guard import Guard

MIDDLEWARE = ["svcauth.django.middleware.ServiceAuthMiddleware"]
VIEW_ROUTES = ["/drf/notifications", "/deco/notifications", "/deco-async-settings/notifications"]
MW_ROUTES = ["/mw/notifications", "/mw-async/notifications"]


@pytest.fixture(autouse=True)
def site_settings() -> Iterator[None]:
    with override_settings(**django_site.SETTINGS):
        yield


def svcauth(**options: Any) -> dict[str, Any]:
    return {"GUARD": "integration_kit.make_guard", **options}


def post(route: str, *, middleware: bool = False, auth: str | None = None,
         asynchronous: bool = False) -> Any:
    """POST through Django's test client; ``asynchronous`` uses ``AsyncClient`` (an async
    middleware chain, as under ASGI)."""
    headers = {} if auth is None else {"Authorization": auth}
    with override_settings(MIDDLEWARE=MIDDLEWARE if middleware else []):
        if asynchronous:
            return async_to_sync(AsyncClient().post)(route, headers=headers)
        return Client().post(route, headers=headers)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["client", "async_client"])
@pytest.mark.parametrize("route", VIEW_ROUTES + MW_ROUTES)
def test_unavailable_key_set_is_503_with_retry_after(route: str, asynchronous: bool) -> None:
    with override_settings(SVCAUTH={"GUARD": "integration_kit.unavailable_guard"}):
        response = post(route, middleware=route in MW_ROUTES, auth=f"Bearer {token()}",
                        asynchronous=asynchronous)
    assert response.status_code == 503
    assert response.json() == {"error": "Authentication temporarily unavailable"}
    assert response.headers["Retry-After"] == "30"
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("asynchronous", [False, True], ids=["client", "async_client"])
@pytest.mark.parametrize("route", VIEW_ROUTES + MW_ROUTES)
def test_include_code_setting_adds_the_stable_code(route: str, asynchronous: bool) -> None:
    with override_settings(SVCAUTH=svcauth(INCLUDE_CODE=True)):
        response = post(route, middleware=route in MW_ROUTES, auth="Bearer a.b.c",
                        asynchronous=asynchronous)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token", "code": "token_malformed"}


def test_drf_default_exception_handler_keeps_status_body_and_challenge_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rest = {**django_site.SETTINGS["REST_FRAMEWORK"]}
    del rest["EXCEPTION_HANDLER"]
    drf._warned = False
    with override_settings(REST_FRAMEWORK=rest), \
            caplog.at_level(logging.WARNING, logger="svcauth.django"):
        expired = post("/drf/notifications", auth=f"Bearer {token(claims(exp=1_799_999_000))}")
        missing = post("/drf/notifications")
    assert expired.status_code == 401
    assert expired.json() == {"error": "Token expired"}
    assert expired.headers["WWW-Authenticate"] == (
        CHALLENGE + ', error="invalid_token", error_description="The access token expired"')
    assert "Cache-Control" not in expired.headers
    assert (missing.status_code, missing.json()) == (401, {"error": "No token provided"})
    assert missing.headers["WWW-Authenticate"] == CHALLENGE
    assert caplog.text.count("EXCEPTION_HANDLER") == 1


def test_drf_allow_anonymous_lets_no_credentials_through_but_refuses_bad_ones() -> None:
    with override_settings(SVCAUTH=svcauth(ALLOW_ANONYMOUS=True)):
        client = Client()
        anonymous = client.get("/drf-open/whoami")
        bad = client.get("/drf-open/whoami", headers={"Authorization": "Bearer abc"})
        caller = client.get("/drf-open/whoami", headers={"Authorization": f"Bearer {token()}"})
        # A svcauth permission refuses a request svcauth did not authenticate.
        by_permission = client.post("/drf-perm/notifications")
    assert (anonymous.status_code, anonymous.json()) == (200, {"client_id": None})
    assert (bad.status_code, bad.json()) == (401, {"error": "Invalid token"})
    assert (caller.status_code, caller.json()) == (200, {"client_id": "shop-api"})
    assert (by_permission.status_code, by_permission.json()) == (401, {"error": "No token provided"})
    assert by_permission.headers["WWW-Authenticate"] == CHALLENGE


def test_drf_own_not_authenticated_gets_the_bearer_challenge_from_authenticate_header() -> None:
    from django_site import WhoAmI
    from rest_framework.permissions import IsAuthenticated

    original = WhoAmI.permission_classes
    WhoAmI.permission_classes = [IsAuthenticated]
    try:
        with override_settings(SVCAUTH=svcauth(ALLOW_ANONYMOUS=True)):
            response = Client().get("/drf-open/whoami")
    finally:
        WhoAmI.permission_classes = original
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_middleware_lets_excluded_paths_through_and_refuses_the_rest() -> None:
    with override_settings(SVCAUTH=svcauth(EXCLUDE_PATHS=["/healthz"])):
        health = post("/healthz", middleware=True)
        refused = post("/drf/notifications", middleware=True)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (refused.status_code, refused.json()) == (401, {"error": "No token provided"})


def test_drf_behind_the_middleware_reuses_its_identity_instead_of_verifying_again() -> None:
    guard = make_guard()
    calls: list[str] = []
    verify = guard.verifier.verify

    def counting(value: str) -> Any:
        calls.append("verify")
        return verify(value)

    guard.verifier.verify = counting  # type: ignore[method-assign]
    with override_settings(SVCAUTH={"GUARD": guard}):
        response = post("/drf/notifications", middleware=True, auth=f"Bearer {token()}")
        other = post("/drf-perm/notifications", middleware=True, auth=f"Bearer {token()}")
    assert (response.status_code, response.json()) == (200, {"client_id": "shop-api"})
    # The first request's middleware verified, DRF took its identity; the second request
    # (same token) was the guard's cached path: no verify call at all.
    assert calls == ["verify"]
    assert other.status_code == 200  # another guard (any service) verified on its own


class CanSend(ServicePermission):
    required_roles = (ROLE,)


def test_a_subclassed_permission_builds_its_policy_once_and_refuses_exactly() -> None:
    assert CanSend().policy is CanSend().policy
    assert CanSend().policy.required_roles == frozenset({ROLE})
    request = type("R", (), {"user": ServiceUser(django_site.any_service_guard().authenticate(
        [f"Bearer {token(claims(resource_access={}))}"]), "techstore"),
                              "method": "POST", "path": "/n"})()
    with pytest.raises(drf.ServiceAuthRefused) as refused:
        CanSend().has_permission(request, None)
    assert refused.value.status_code == 403
    assert refused.value.error.code == "insufficient_scope"
    assert refused.value.auth_header == (
        CHALLENGE + ', error="insufficient_scope", error_description="The access token lacks a '
        f'required role or scope", scope="{ROLE}"')


def test_service_user_reads_as_the_caller() -> None:
    identity = make_guard().authenticate([f"Bearer {token()}"])
    user = ServiceUser(identity, "techstore")
    assert (user.is_authenticated, user.is_anonymous, user.client_id, str(user)) == (
        True, False, "shop-api", "shop-api")


def test_nothing_of_a_token_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for route in VIEW_ROUTES + MW_ROUTES:
            for case in CASES:
                with override_settings(MIDDLEWARE=MIDDLEWARE if route in MW_ROUTES else []):
                    Client().post(route, headers=dict(case.headers()))
    assert secrets_in(caplog.text) == []


def test_guard_given_as_an_object_or_a_callable_is_used() -> None:
    guard: Guard[Any] = make_guard()
    from svcauth.django import service_guard

    with override_settings(SVCAUTH={"GUARD": guard}):
        assert service_guard() is guard
    with override_settings(SVCAUTH={"GUARD": lambda: guard}):
        assert service_guard() is guard


def test_a_refused_request_never_runs_the_view() -> None:
    from django.http import JsonResponse
    from django.test import RequestFactory

    from svcauth.django import ServiceAuthMiddleware, require_service

    ran: list[str] = []

    def view(request: Any) -> JsonResponse:
        ran.append("view")
        return JsonResponse({})

    request = RequestFactory().post("/n", headers={"Authorization": "Bearer abc"})
    with override_settings(SVCAUTH=svcauth()):
        by_decorator = require_service()(view)(request)
        by_middleware = ServiceAuthMiddleware(view)(request)
    assert (by_decorator.status_code, by_middleware.status_code) == (401, 401)
    assert ran == []


def test_a_permission_refusal_is_on_the_audit_trail(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="svcauth.audit"):
        response = post("/drf-perm/notifications",
                        auth=f"Bearer {token(claims('reporting-job'))}")
    assert response.status_code == 403
    lines = [(r.svcauth_audit["decision"], r.svcauth_audit["status"],  # type: ignore[attr-defined]
              r.svcauth_audit["error_code"], r.svcauth_audit["client_id"],  # type: ignore[attr-defined]
              r.svcauth_audit["endpoint"])  # type: ignore[attr-defined]
             for r in caplog.records if r.name == "svcauth.audit"]
    assert lines == [("allow", 200, None, "reporting-job", "POST /drf-perm/notifications"),
                     ("deny", 403, "unauthorized_service", "reporting-job",
                      "POST /drf-perm/notifications")]


def test_other_exceptions_go_to_drf_own_handler() -> None:
    from rest_framework.exceptions import NotFound

    response = drf.exception_handler(NotFound(), {})
    assert (response.status_code, response.data) == (404, {"detail": "Not found."})


def test_with_allow_anonymous_another_drf_authentication_class_gets_its_turn() -> None:
    def who(auth: str) -> tuple[int, Any]:
        response = Client().get("/drf-combo/whoami", headers={"Authorization": auth})
        return response.status_code, response.json()

    with override_settings(SVCAUTH=svcauth(ALLOW_ANONYMOUS=True)):
        assert who("Basic c2hvcDpzZWNyZXQ=") == (200, {"client_id": "basic-user"})
        assert who(f"Bearer {token()}") == (200, {"client_id": "shop-api"})
        assert who("Bearer abc") == (401, {"error": "Invalid token"})
    with override_settings(SVCAUTH=svcauth()):
        assert who("Basic c2hvcDpzZWNyZXQ=") == (401, {"error": "No token provided"})
