"""The worked example: who may list and create invoices, one row per caller.

Every row mints its token with ``svcauth_tokens`` from the realm's own clients and users
and asserts the exact answer: 200/201 for allowed callers, ``assert_refused`` (status, body,
``WWW-Authenticate``) for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from svcauth.testing import MISSING, TokenFactory, assert_refused

Headers = Callable[[TokenFactory], dict[str, str]]

# (name, how the caller's headers are made, expected status, expected code or None)
LIST_ROWS: list[tuple[str, Headers, int, str | None]] = [
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
                         [row[1:] for row in LIST_ROWS], ids=[row[0] for row in LIST_ROWS])
def test_list_invoices(client: TestClient, svcauth_tokens: TokenFactory, headers: Headers,
                       status: int, code: str | None) -> None:
    response = client.get("/invoices", headers=headers(svcauth_tokens))
    if code is None:
        assert response.status_code == status
        assert response.json() == {"caller": response.json()["caller"], "invoices": []}
    else:
        assert_refused(response, status, code, realm="billing")


def test_the_caller_is_the_tokens_client(client: TestClient, svcauth_tokens: TokenFactory) -> None:
    response = client.get("/invoices", headers=svcauth_tokens.headers("reporting-service"))
    assert response.json() == {"caller": "reporting-service", "invoices": []}


def test_invoicing_job_creates_an_invoice(client: TestClient,
                                         svcauth_tokens: TokenFactory) -> None:
    invoice: dict[str, Any] = {"customer": "dana", "amount_cents": 4200}
    response = client.post("/invoices", json=invoice,
                           headers=svcauth_tokens.headers("invoicing-job"))
    assert response.status_code == 201
    assert response.json() == {"id": 1, "created_by": "invoicing-job", **invoice}


def test_reader_may_not_create_and_is_told_the_missing_role(
        client: TestClient, svcauth_tokens: TokenFactory) -> None:
    response = client.post("/invoices", json={"customer": "dana", "amount_cents": 1},
                           headers=svcauth_tokens.headers("reporting-service"))
    assert_refused(response, 403, "insufficient_scope", realm="billing",
                   scope="billing-api:invoices:write")


def test_a_role_granted_in_the_token_alone_is_enough(
        client: TestClient, svcauth_tokens: TokenFactory) -> None:
    # The policy reads the verified claims: a token that carries the role is allowed,
    # whatever the realm says (this is what a changed claim is for).
    roles = {"billing-api": {"roles": ["invoices:write"]}}
    response = client.post("/invoices", json={"customer": "erin", "amount_cents": 7},
                           headers=svcauth_tokens.headers("reporting-service",
                                                          claims={"resource_access": roles}))
    assert response.status_code == 201
    assert response.json()["created_by"] == "reporting-service"


def test_customer_reads_own_invoices_with_a_user_token(
        client: TestClient, svcauth_tokens: TokenFactory) -> None:
    client.post("/invoices", json={"customer": "dana", "amount_cents": 4200},
                headers=svcauth_tokens.headers("invoicing-job"))
    client.post("/invoices", json={"customer": "erin", "amount_cents": 99},
                headers=svcauth_tokens.headers("invoicing-job"))
    response = client.get("/me/invoices",
                          headers=svcauth_tokens.headers("billing-portal", user="dana"))
    assert response.status_code == 200
    assert response.json() == {"customer": "dana", "invoices": [
        {"id": 1, "created_by": "invoicing-job", "customer": "dana", "amount_cents": 4200}]}


def test_service_token_is_refused_on_the_customer_endpoint(
        client: TestClient, svcauth_tokens: TokenFactory) -> None:
    response = client.get("/me/invoices", headers=svcauth_tokens.headers("invoicing-job"))
    assert_refused(response, 403, "not_user_token", realm="billing")
