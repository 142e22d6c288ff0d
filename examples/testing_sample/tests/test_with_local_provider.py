"""The same service against the embedded provider over real HTTP: the caller gets its
token from the token endpoint with its own secret (svcauth's caller), the service fetches
the JWKS from the provider, as in production."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from svcauth.caller import CachingTokenSource, ClientConfig, ClientCredentialsSource
from svcauth.httpx import BearerAuth
from svcauth.testing import LocalProvider, TokenFactory, assert_refused

from billing.app import create_app


@pytest.fixture
def served(svcauth_idp: LocalProvider) -> TestClient:
    """The app verifying with a RemoteKeySet on the provider's JWKS URL."""
    return TestClient(create_app(svcauth_idp.verifier()))


@pytest.fixture
def invoicing_job(svcauth_idp: LocalProvider) -> Iterator[BearerAuth]:
    """httpx auth for invoicing-job: client credentials against the provider."""
    source = ClientCredentialsSource(ClientConfig.from_env(svcauth_idp.caller_env("invoicing-job")))
    yield BearerAuth(CachingTokenSource(source))
    source.close()


def test_provider_urls_are_on_loopback(svcauth_idp: LocalProvider) -> None:
    assert svcauth_idp.issuer == f"{svcauth_idp.base_url}/realms/billing"
    assert svcauth_idp.base_url.startswith("http://127.0.0.1:")
    discovery = httpx.get(svcauth_idp.discovery_url).json()
    assert discovery["token_endpoint"] == svcauth_idp.token_endpoint
    assert discovery["jwks_uri"] == svcauth_idp.jwks_uri


def test_caller_with_a_fetched_token_creates_an_invoice(
        served: TestClient, invoicing_job: BearerAuth) -> None:
    response = served.post("/invoices", json={"customer": "dana", "amount_cents": 1500},
                           auth=invoicing_job)
    assert response.status_code == 201
    assert response.json() == {"id": 1, "created_by": "invoicing-job", "customer": "dana",
                               "amount_cents": 1500}


def test_wrong_secret_gets_no_token(svcauth_idp: LocalProvider) -> None:
    response = httpx.post(svcauth_idp.token_endpoint, data={
        "grant_type": "client_credentials", "client_id": "invoicing-job",
        "client_secret": "not-the-secret"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized_client"


def test_minted_token_of_the_provider_is_refused_when_expired(
        served: TestClient, svcauth_idp: LocalProvider) -> None:
    response = served.get("/invoices", headers=svcauth_idp.headers("reporting-service",
                                                                   expired=True))
    assert_refused(response, 401, "token_expired", realm="billing")


def test_static_kit_tokens_are_not_the_providers(
        served: TestClient, svcauth_tokens: TokenFactory) -> None:
    # Another issuer and other keys: a token of the offline kit is no token here.
    response = served.get("/invoices", headers=svcauth_tokens.headers("reporting-service"))
    assert_refused(response, 401, "key_not_found", realm="billing")
