"""Django settings of the billing service's DRF API (``DJANGO_SETTINGS_MODULE=billing.django_settings``).

Where the provider is comes from the seed's variables, as in production: ``OIDC_ISSUER`` and
``SVCAUTH_JWKS_URI``, or ``KEYCLOAK_URL`` and ``KEYCLOAK_REALM``. ``SVCAUTH`` says who this
service is; who may call which view is said by the views' permission classes
(``billing/django_api.py``). The tests replace only the provider part (tests/conftest.py).
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "billing-sample-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")
ROOT_URLCONF = "billing.django_api"
INSTALLED_APPS = ["rest_framework", "svcauth.django"]  # svcauth.django: `manage.py check` checks SVCAUTH
MIDDLEWARE: list[str] = []
USE_TZ = True

SVCAUTH = {
    "AUDIENCE": "billing-api",
    "WWW_AUTHENTICATE_REALM": "billing",
}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "svcauth.django.drf.exception_handler",
    "UNAUTHENTICATED_USER": None,  # no django.contrib.auth needed
}
