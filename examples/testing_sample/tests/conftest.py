"""The billing service under test, on the svcauth plugin's fixtures only.

``svcauth_tokens`` (no server) signs tokens of the realm in realm/billing-realm.json and
gives a verifier on a static key set of its keys; pyproject.toml names the realm file, its
env file and our audience (``billing-api``) once.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from svcauth.testing import TokenFactory

from billing.app import create_app


@pytest.fixture
def client(svcauth_tokens: TokenFactory) -> TestClient:
    """The app, verifying with the test kit's static key set (no HTTP)."""
    return TestClient(create_app(svcauth_tokens.verifier()))
