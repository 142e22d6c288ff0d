"""URLs of the example notification service."""

from django.urls import path

from .views import SendNotification, healthz, status

urlpatterns = [
    path("api/notifications", SendNotification.as_view()),
    path("api/status", status),
    path("healthz", healthz),
]
