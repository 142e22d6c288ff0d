"""The billing service's Django REST framework API (``ROOT_URLCONF``): services list
invoices, as on the FastAPI service (``billing/app.py``).

``ServiceTokenAuthentication`` verifies the token with the guard of ``settings.SVCAUTH``
(any service account for our audience); ``ServicePermission`` then says who may call this
view. Import it once Django is configured.
"""

from typing import Any

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView
from svcauth.django.drf import ServicePermission, ServiceTokenAuthentication


class Invoices(APIView):
    """GET /api/invoices: invoicing-job and reporting-service, holding invoices:read."""

    authentication_classes = (ServiceTokenAuthentication,)
    permission_classes = (ServicePermission(
        allowed_clients={"invoicing-job", "reporting-service"},
        required_roles={"billing-api:invoices:read"}),)

    def get(self, request: Any) -> Response:
        return Response({"caller": request.user.client_id, "invoices": []})


urlpatterns = [
    path("api/invoices", Invoices.as_view()),
]
