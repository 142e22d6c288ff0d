"""The password grant for a public client and alice: user token layout, ID and refresh
tokens whose ``typ`` receivers must refuse as access tokens. The project realm has no
password grant on its user paths: these run on the test-only realm whose storefront is the
public client with direct access grants it used to be (``public_storefront_realm``)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from devidp_support import claims_of, header_of, post, verify_with_pyjwt

from svcauth.devidp import DevIdP, Realm


@pytest.fixture(scope="module")
def realm(public_realm: Realm) -> Realm:
    """Every test here runs on the test-only public-storefront realm."""
    return public_realm


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
    # audience-resolve (roles held) first, then storefront's audience mapper (shop-api)
    assert claims["aud"] == ["notification-service", "payment-service", "account", "shop-api"]
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
    assert claims["jti"].startswith("onrtro:")
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


def _refresh(idp: DevIdP, token: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "client_id": "storefront", "refresh_token": token}
    return post(idp.token_endpoint, {**form, **extra})


def test_refresh_token_grant_issues_new_tokens_for_the_same_session(
        idp: DevIdP, alice_tokens: dict[str, object]) -> None:
    response = _refresh(idp, str(alice_tokens["refresh_token"]))
    assert response.status_code == 200, response.text
    body = response.json()
    old, new = claims_of(str(alice_tokens["access_token"])), claims_of(body["access_token"])
    assert new["sid"] == old["sid"] and new["sub"] == old["sub"]
    assert new["jti"] != old["jti"]
    assert body["scope"] == "openid email profile"
    assert claims_of(body["id_token"])["typ"] == "ID"


@pytest.mark.parametrize(("case", "status", "error", "description"), [
    ("missing", 400, "invalid_request", "No refresh token"),
    ("garbage", 400, "invalid_grant", "Invalid refresh token"),
    ("access_token_instead", 400, "invalid_grant", "Invalid refresh token"),
    ("other_client", 400, "invalid_grant", "Unmatching clients"),
])
def test_refresh_refusals(idp: DevIdP, dev_env: dict[str, str],
                          alice_tokens: dict[str, object], case: str, status: int,
                          error: str, description: str) -> None:
    if case == "missing":
        response = post(idp.token_endpoint, {"grant_type": "refresh_token",
                                             "client_id": "storefront"})
    elif case == "garbage":
        response = _refresh(idp, "a.b.c")
    elif case == "access_token_instead":
        response = _refresh(idp, str(alice_tokens["access_token"]))
    else:
        response = post(idp.token_endpoint, {
            "grant_type": "refresh_token", "refresh_token": str(alice_tokens["refresh_token"])},
            auth=("shop-api", dev_env["SHOP_API_CLIENT_SECRET"]))
    assert (response.status_code, response.json()) == (
        status, {"error": error, "error_description": description})
