"""Settings of the example notification service.

Where the provider is comes from the seed's variables (``KEYCLOAK_URL``, ``KEYCLOAK_REALM``,
``KEYCLOAK_AUTH_PATH``); ``SVCAUTH`` says who this service is and who may call it.
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "notifications_site.urls"
INSTALLED_APPS = ["rest_framework", "svcauth.django"]  # svcauth.django: `manage.py check` checks SVCAUTH
MIDDLEWARE: list[str] = []
USE_TZ = True

SVCAUTH = {
    "AUDIENCE": "notification-service",
    "ALLOWED_CLIENTS": ["shop-api", "cart-reminder-job", "reporting-job"],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["svcauth.django.drf.ServiceTokenAuthentication"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "svcauth.django.drf.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
