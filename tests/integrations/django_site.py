"""A small Django project for the integration tests: settings, views and URLs in one module
(``ROOT_URLCONF`` points here). Each way of protecting a view serves the same endpoint:

* ``/drf/notifications``: DRF ``ServiceTokenAuthentication`` with the guard of
  ``SVCAUTH['GUARD']`` (the integration kit's ``make_guard``);
* ``/drf-perm/notifications``: DRF with a guard admitting any service account, and
  ``ServicePermission`` holding the kit's clients and role;
* ``/deco/notifications`` and ``/deco-async/notifications``: ``require_service`` on a sync
  and an ``async def`` view;
* ``/mw/notifications`` and ``/mw-async/notifications``: plain views behind
  ``ServiceAuthMiddleware`` (served by a handler built with :func:`middleware_settings`).

The async paths use a guard whose blocking ``authenticate`` fails the test: they must await
``aauthenticate``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path
from integration_kit import REALM, ROLE, make_guard

from svcauth.receiver import ServicePolicy, UserPolicy
from svcauth.receiver._guard import Guard

SETTINGS: dict[str, Any] = {
    "DEBUG": False,
    "SECRET_KEY": "django-integration-tests-only",
    "ALLOWED_HOSTS": ["127.0.0.1", "localhost", "testserver"],
    "ROOT_URLCONF": "django_site",
    "INSTALLED_APPS": ["rest_framework"],
    "MIDDLEWARE": [],
    "USE_TZ": True,
    "SVCAUTH": {"GUARD": "integration_kit.make_guard"},
    "REST_FRAMEWORK": {
        "DEFAULT_AUTHENTICATION_CLASSES": ["svcauth.django.drf.ServiceTokenAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": [],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "EXCEPTION_HANDLER": "svcauth.django.drf.exception_handler",
        "UNAUTHENTICATED_USER": None,
    },
}

MIDDLEWARE = ["django_site.SyncOrAsyncMiddleware"]

if not settings.configured:
    settings.configure(**SETTINGS)
    django.setup()

from rest_framework.authentication import BaseAuthentication  # noqa: E402
from rest_framework.response import Response  # noqa: E402  (needs configured settings)
from rest_framework.views import APIView  # noqa: E402

from svcauth.django import require_service  # noqa: E402
from svcauth.django.drf import (  # noqa: E402
    ServicePermission,
    ServiceTokenAuthentication,
    UserPermission,
    UserTokenAuthentication,
)
from svcauth.django.middleware import ServiceAuthMiddleware  # noqa: E402

CLIENTS = ("shop-api", "cart-reminder-job", "inventory-sync")


def async_only(guard: Guard[Any]) -> Guard[Any]:
    """``guard`` with its blocking ``authenticate`` made to fail: for async paths."""

    def blocking(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an async path must not call the blocking Guard.authenticate")

    guard.authenticate = blocking  # type: ignore[method-assign]
    return guard


@cache
def any_service_guard() -> Guard[Any]:
    """The kit's verifier with a policy admitting any service account."""
    return Guard(make_guard().verifier, ServicePolicy(), realm=REALM)


class AnyServiceAuthentication(ServiceTokenAuthentication):
    guard = any_service_guard()


class StorefrontAuthentication(UserTokenAuthentication):
    guard = Guard(make_guard().verifier, UserPolicy(allowed_clients=("storefront",)), realm=REALM)


class Checkout(APIView):
    authentication_classes = [StorefrontAuthentication]
    permission_classes = [UserPermission(required_roles=("realm:customer",))]

    def post(self, request: Any) -> Response:
        return Response({"subject": request.auth.subject})


class WhoAmI(APIView):
    """No permission: with ALLOW_ANONYMOUS a request without credentials gets here."""

    authentication_classes = [ServiceTokenAuthentication]
    permission_classes: list[Any] = []

    def get(self, request: Any) -> Response:
        return Response({"client_id": getattr(request.user, "client_id", None)})


class BasicUser:
    is_authenticated = True
    client_id = "basic-user"


class AcceptsBasic(BaseAuthentication):
    """Another DRF authentication class, tried after svcauth's."""

    def authenticate(self, request: Any) -> tuple[Any, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        return (BasicUser(), None) if header.startswith("Basic ") else None


class Combined(WhoAmI):
    authentication_classes = [ServiceTokenAuthentication, AcceptsBasic]


class Notifications(APIView):
    # Explicit, not REST_FRAMEWORK's default: another test module may have configured Django.
    authentication_classes = [ServiceTokenAuthentication]
    permission_classes: list[Any] = []

    def post(self, request: Any) -> Response:
        return Response({"client_id": request.user.client_id})


class NotificationsByPermission(APIView):
    authentication_classes = [AnyServiceAuthentication]
    permission_classes = [ServicePermission(allowed_clients=CLIENTS, required_roles=(ROLE,))]

    def post(self, request: Any) -> Response:
        return Response({"client_id": request.auth.client_id})


@require_service()
def deco_sync(request: Any) -> JsonResponse:
    return JsonResponse({"client_id": request.identity.client_id})


@require_service(async_only(make_guard()))
async def deco_async(request: Any) -> JsonResponse:
    return JsonResponse({"client_id": request.identity.client_id})


@require_service()
async def deco_async_settings(request: Any) -> JsonResponse:
    return JsonResponse({"client_id": request.identity.client_id})


def plain(request: Any) -> JsonResponse:
    return JsonResponse({"client_id": request.identity.client_id})


async def plain_async(request: Any) -> JsonResponse:
    return JsonResponse({"client_id": request.identity.client_id})


def healthz(request: Any) -> JsonResponse:
    return JsonResponse({"status": "ok"})


class SyncOrAsyncMiddleware(ServiceAuthMiddleware):
    """The middleware with the kit's guard; in an async chain its blocking path fails."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        self.active_guard = async_only(make_guard()) if self.is_async else make_guard()


urlpatterns = [
    path("drf/notifications", Notifications.as_view()),
    path("drf-perm/notifications", NotificationsByPermission.as_view()),
    path("deco/notifications", deco_sync),
    path("deco-async/notifications", deco_async),
    path("deco-async-settings/notifications", deco_async_settings),
    path("mw/notifications", plain),
    path("mw-async/notifications", plain_async),
    path("drf-user/checkout", Checkout.as_view()),
    path("drf-open/whoami", WhoAmI.as_view()),
    path("drf-combo/whoami", Combined.as_view()),
    path("healthz", healthz),
]
