"""Three endpoints: a DRF view needing the send role, an async Django view open to every
allowed service, and an unprotected health check."""

from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from svcauth.django import require_service
from svcauth.django.drf import ServicePermission

SEND = "notification-service:notifications:send"


class SendNotification(APIView):
    """POST /api/notifications: allowed clients holding notifications:send."""

    permission_classes = [ServicePermission(required_roles=[SEND])]

    def post(self, request: Any) -> Response:
        return Response({"queued": True, "from": request.user.client_id}, status=202)


@require_service()
async def status(request: HttpRequest) -> JsonResponse:
    """GET /api/status: any allowed client (async view; the token is checked without
    blocking the event loop)."""
    return JsonResponse({"caller": request.identity.client_id})  # type: ignore[attr-defined]


def healthz(request: HttpRequest) -> JsonResponse:
    """GET /healthz: no token needed."""
    return JsonResponse({"status": "ok"})
