"""The password grant for the public storefront client and alice: user token layout,
ID and refresh tokens whose ``typ`` receivers must refuse as access tokens."""

from __future__ import annotations

import uuid

import pytest
from devidp_support import claims_of, header_of, post, verify_with_pyjwt

from svcauth.devidp import DevIdP


@pytest.fixture(scope="module")
def alice_tokens(idp: DevIdP, dev_env: dict[str, str]) -> dict[str, object]:
    response = post(idp.token_endpoint, {
        "grant_type": "password", "client_id": "storefront", "username": "alice",
        "password": dev_env["ALICE_PASSWORD"], "scope": "openid"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_alice_access_token_layout(idp: DevIdP, alice_tokens: dict[str, object]) -> None:
    claims = verify_with_pyjwt(str(alice_tokens["access_token"]), idp.jwks(),
                               issuer=idp.issuer, audience="notification-service")
    assert claims["aud"] == ["notification-service", "account"]
    assert claims["resource_access"]["notification-service"] == {
        "roles": ["notifications:read"]}
    assert claims["azp"] == "storefront"
    assert claims["typ"] == "Bearer"
    assert claims["preferred_username"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert (claims["name"], claims["given_name"], claims["family_name"]) == (
        "Alice Shopper", "Alice", "Shopper")
    assert claims["allowed-origins"] == ["http://127.0.0.1:8081"]
    assert claims["scope"] == "openid email profile"
    assert str(uuid.UUID(claims["sid"])) == claims["sid"]
    assert "client_id" not in claims and "clientHost" not in claims
    assert "clientAddress" not in claims


def test_password_response_fields(alice_tokens: dict[str, object]) -> None:
    assert set(alice_tokens) == {"access_token", "expires_in", "refresh_expires_in",
                                 "refresh_token", "token_type", "id_token",
                                 "not-before-policy", "session_state", "scope"}
    assert alice_tokens["expires_in"] == 300
    assert alice_tokens["refresh_expires_in"] == 1800
    assert alice_tokens["token_type"] == "Bearer"
    assert alice_tokens["session_state"] == claims_of(str(alice_tokens["access_token"]))["sid"]


def test_id_token_has_typ_id_and_the_client_as_audience(
        idp: DevIdP, alice_tokens: dict[str, object]) -> None:
    claims = verify_with_pyjwt(str(alice_tokens["id_token"]), idp.jwks(), issuer=idp.issuer,
                               audience="storefront")
    assert claims["typ"] == "ID"
    assert claims["aud"] == "storefront"
    assert claims["sid"] == claims_of(str(alice_tokens["access_token"]))["sid"]
    assert "at_hash" in claims


def test_refresh_token_has_typ_refresh_and_is_hmac_signed(
        idp: DevIdP, alice_tokens: dict[str, object]) -> None:
    token = str(alice_tokens["refresh_token"])
    assert header_of(token)["alg"] == "HS512"
    claims = claims_of(token)
    assert claims["typ"] == "Refresh"
    assert claims["aud"] == idp.issuer
    assert header_of(token)["kid"] not in {k["kid"] for k in idp.jwks()["keys"]}


def test_without_openid_scope_there_is_no_id_token(idp: DevIdP,
                                                   dev_env: dict[str, str]) -> None:
    response = post(idp.token_endpoint, {
        "grant_type": "password", "client_id": "storefront", "username": "ALICE",
        "password": dev_env["ALICE_PASSWORD"]})
    assert response.status_code == 200
    assert "id_token" not in response.json()
    assert response.json()["scope"] == "email profile"
