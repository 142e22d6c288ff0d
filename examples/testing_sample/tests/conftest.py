"""The billing service under test, on the svcauth plugin's fixtures only.

``svcauth_tokens`` (no server) signs tokens of the realm in realm/billing-realm.json and
gives a verifier on a static key set of its keys; pyproject.toml names the realm file, its
env file and our audience (``billing-api``) once.

Django is configured here once, from the service's own settings (billing/django_settings.py),
unless something configured it before; each fixture then changes only where the keys come
from, with ``override_settings`` (svcauth rebuilds its guards on the change).
"""

from __future__ import annotations

from collections.abc import Iterator

import django
import pytest
from django.conf import settings
from django.test import Client, override_settings
from fastapi.testclient import TestClient
from svcauth.receiver import Guard, ServicePolicy
from svcauth.testing import LocalProvider, TokenFactory

from billing import django_settings
from billing.app import create_app

if not settings.configured:
    settings.configure(**{name: getattr(django_settings, name) for name in dir(django_settings)
                          if name.isupper()} | {"ALLOWED_HOSTS": ["testserver"]})
    django.setup()


@pytest.fixture
def client(svcauth_tokens: TokenFactory) -> TestClient:
    """The app, verifying with the test kit's static key set (no HTTP)."""
    return TestClient(create_app(svcauth_tokens.verifier()))


@pytest.fixture
def django_client(svcauth_tokens: TokenFactory) -> Iterator[Client]:
    """Django's test client on the DRF API; the settings' guard is the one they would build
    (any service account for our audience) on the test kit's static key set (no HTTP)."""
    guard = Guard(svcauth_tokens.verifier(), ServicePolicy(),
                  realm=settings.SVCAUTH["WWW_AUTHENTICATE_REALM"])
    with override_settings(SVCAUTH={**settings.SVCAUTH, "GUARD": guard}):
        yield Client()


@pytest.fixture
def django_client_on_idp(svcauth_idp: LocalProvider) -> Iterator[Client]:
    """Django's test client on the DRF API, its settings naming the embedded provider as
    production names Keycloak: the guard is built from them, keys from the JWKS URL."""
    with override_settings(SVCAUTH={**settings.SVCAUTH, "ISSUER": svcauth_idp.issuer,
                                    "JWKS_URI": svcauth_idp.jwks_uri}):
        yield Client()
