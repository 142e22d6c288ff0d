"""The worked example's Django half: the DRF API (billing/django_api.py) through Django's
test client, one row per caller.

The same callers as the FastAPI rows (tests/test_invoices.py), and the same answers:
``ServiceTokenAuthentication`` refuses bad tokens with the guard of the settings,
``ServicePermission`` refuses callers the view does not admit, both exactly as
``assert_refused`` expects (status, body, ``WWW-Authenticate``, ``Cache-Control``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.test import Client
from svcauth.caller import ClientConfig, ClientCredentialsSource
from svcauth.testing import MISSING, LocalProvider, TokenFactory, assert_refused

Headers = Callable[[TokenFactory], dict[str, str]]

# (name, how the caller's headers are made, expected status, expected code or None)
ROWS: list[tuple[str, Headers, int, str | None]] = [
    ("invoicing job", lambda t: t.headers("invoicing-job"), 200, None),
    ("reporting service", lambda t: t.headers("reporting-service"), 200, None),
    ("no token", lambda t: {}, 401, "token_missing"),
    ("expired token", lambda t: t.headers("invoicing-job", expired=True), 401, "token_expired"),
    ("unknown signing key", lambda t: t.headers("invoicing-job", key="unknown"), 401,
     "key_not_found"),
    ("forged signature", lambda t: t.headers("invoicing-job", key="forged"), 401,
     "signature_invalid"),
    ("another issuer", lambda t: t.headers("invoicing-job", claims={
        "iss": "https://idp.example/realms/billing"}), 401, "issuer_mismatch"),
    ("token for another audience", lambda t: t.headers("newsletter-service"), 401,
     "audience_mismatch"),
    ("no exp claim", lambda t: t.headers("invoicing-job", claims={"exp": MISSING}), 401,
     "claim_invalid"),
    ("refresh token type", lambda t: t.headers("invoicing-job", claims={"typ": "Refresh"}), 401,
     "token_type_invalid"),
    ("service not allowed", lambda t: t.headers("newsletter-service", claims={
        "aud": "billing-api",
        "resource_access": {"billing-api": {"roles": ["invoices:read"]}}}), 403,
     "unauthorized_service"),
    ("allowed service without the role", lambda t: t.headers("reporting-service", claims={
        "resource_access": MISSING}), 403, "insufficient_scope"),
    ("a user token", lambda t: t.headers("billing-portal", user="dana"), 403,
     "not_service_account"),
]


@pytest.mark.parametrize(("headers", "status", "code"),
                         [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_list_invoices(django_client: Client, svcauth_tokens: TokenFactory, headers: Headers,
                       status: int, code: str | None) -> None:
    response = django_client.get("/api/invoices", headers=headers(svcauth_tokens))
    if code is None:
        assert response.status_code == status
        assert response.json() == {"caller": response.json()["caller"], "invoices": []}
    else:
        assert_refused(response, status, code, realm="billing")


def test_the_caller_is_the_tokens_client(django_client: Client,
                                         svcauth_tokens: TokenFactory) -> None:
    response = django_client.get("/api/invoices",
                                 headers=svcauth_tokens.headers("reporting-service"))
    assert response.status_code == 200
    assert response.json() == {"caller": "reporting-service", "invoices": []}


def test_caller_without_the_role_is_told_the_missing_role(
        django_client: Client, svcauth_tokens: TokenFactory) -> None:
    headers = svcauth_tokens.headers("invoicing-job", claims={
        "resource_access": {"billing-api": {"roles": ["invoices:write"]}}})
    response = django_client.get("/api/invoices", headers=headers)
    assert_refused(response, 403, "insufficient_scope", realm="billing",
                   scope="billing-api:invoices:read")


# The same API with its settings naming the embedded provider (keys from its JWKS URL).

@pytest.fixture
def reporting_token(svcauth_idp: LocalProvider) -> Iterator[str]:
    """An access token of reporting-service from the provider's token endpoint."""
    source = ClientCredentialsSource(ClientConfig.from_env(
        svcauth_idp.caller_env("reporting-service")))
    yield source.fetch().access_token
    source.close()


def test_caller_with_a_fetched_token_lists_invoices(django_client_on_idp: Client,
                                                   reporting_token: str) -> None:
    response = django_client_on_idp.get("/api/invoices",
                                        headers={"Authorization": f"Bearer {reporting_token}"})
    assert response.status_code == 200
    assert response.json() == {"caller": "reporting-service", "invoices": []}


def test_expired_token_of_the_provider_is_refused(django_client_on_idp: Client,
                                                  svcauth_idp: LocalProvider) -> None:
    response = django_client_on_idp.get("/api/invoices", headers=svcauth_idp.headers(
        "invoicing-job", expired=True))
    assert_refused(response, 401, "token_expired", realm="billing")


def test_static_kit_tokens_are_not_the_providers(django_client_on_idp: Client,
                                                 svcauth_tokens: TokenFactory) -> None:
    response = django_client_on_idp.get("/api/invoices",
                                        headers=svcauth_tokens.headers("invoicing-job"))
    assert_refused(response, 401, "key_not_found", realm="billing")
