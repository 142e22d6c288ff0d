"""Keycloak's paths (with and without ``/auth``), discovery, 404s, introspection, the
issuer following the Host header, and the seed's own curl command."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from devidp_support import claims_of, post, secret_form

from svcauth.devidp import DevIdP, Realm


@pytest.fixture(scope="module")
def auth_idp(realm: Realm) -> Iterator[DevIdP]:
    with DevIdP(realm, auth_path="/auth") as provider:
        yield provider


def test_discovery_document(idp: DevIdP) -> None:
    doc = httpx.get(idp.discovery_url, timeout=10).json()
    assert doc["issuer"] == idp.issuer
    assert doc["token_endpoint"] == idp.token_endpoint
    assert doc["jwks_uri"] == idp.jwks_uri
    assert doc["introspection_endpoint"] == idp.introspection_endpoint
    assert {"client_credentials", "password"} <= set(doc["grant_types_supported"])
    assert {"private_key_jwt", "client_secret_basic", "client_secret_post"} <= set(
        doc["token_endpoint_auth_methods_supported"])


def test_auth_path_serves_everything_under_auth(auth_idp: DevIdP,
                                                dev_env: dict[str, str]) -> None:
    assert auth_idp.issuer == f"{auth_idp.base_url}/auth/realms/techstore"
    doc = httpx.get(f"{auth_idp.base_url}/auth/realms/techstore/.well-known/"
                    "openid-configuration", timeout=10).json()
    assert doc["token_endpoint"] == f"{auth_idp.base_url}/auth/realms/techstore/protocol/" \
                                    "openid-connect/token"
    response = post(doc["token_endpoint"], secret_form(dev_env, "shop-api"))
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["iss"] == auth_idp.issuer
    plain = httpx.get(f"{auth_idp.base_url}/realms/techstore/.well-known/openid-configuration",
                      timeout=10)
    assert plain.status_code == 404


@pytest.mark.parametrize(("path", "body"), [
    ("/realms/nope/.well-known/openid-configuration",
     {"error": "Realm does not exist", "error_description": "Realm does not exist"}),
    ("/realms/techstore/protocol/openid-connect/nothing",
     {"error": "Unable to find matching target resource method",
      "error_description": "For more on this error consult the server log."}),
    ("/", {"error": "Unable to find matching target resource method",
           "error_description": "For more on this error consult the server log."}),
])
def test_unknown_realm_or_path_is_404_json(idp: DevIdP, path: str, body: dict[str, str]) -> None:
    response = httpx.get(idp.base_url + path, timeout=10)
    assert (response.status_code, response.json()) == (404, body)


def test_get_on_the_token_endpoint_is_405(idp: DevIdP) -> None:
    response = httpx.get(idp.token_endpoint, timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_issuer_follows_the_host_header_like_start_dev(idp: DevIdP,
                                                       dev_env: dict[str, str]) -> None:
    response = post(idp.token_endpoint, secret_form(dev_env, "shop-api"),
                    headers={"Host": f"localhost:{idp.port}"})
    iss = claims_of(response.json()["access_token"])["iss"]
    assert iss == f"http://localhost:{idp.port}/realms/techstore"


def test_hostname_pins_the_issuer(realm: Realm, dev_env: dict[str, str]) -> None:
    with DevIdP(realm, hostname="http://idp.example:8080/") as provider:
        response = post(provider.token_endpoint, secret_form(dev_env, "shop-api"),
                        headers={"Host": "localhost"})
        assert provider.issuer == "http://idp.example:8080/realms/techstore"
    assert claims_of(response.json()["access_token"])["iss"] == provider.issuer


def _introspect(idp: DevIdP, env: dict[str, str], client: str, token: str) -> httpx.Response:
    return post(idp.introspection_endpoint, {"token": token},
                auth=(client, env[client.upper().replace("-", "_") + "_CLIENT_SECRET"]))


def test_introspection_of_a_valid_token_for_its_audience(idp: DevIdP,
                                                         dev_env: dict[str, str]) -> None:
    token = idp.mint_token("shop-api")
    body = _introspect(idp, dev_env, "notification-service", token).json()
    assert body["active"] is True
    assert (body["client_id"], body["username"], body["token_type"]) == (
        "shop-api", "service-account-shop-api", "Bearer")
    assert body["sub"] == claims_of(token)["sub"]


@pytest.mark.parametrize("case", ["expired", "garbage", "not_in_aud", "foreign_signature"])
def test_introspection_inactive(idp: DevIdP, dev_env: dict[str, str], case: str) -> None:
    client = "notification-service"
    if case == "expired":
        token = idp.mint_token("shop-api", now=1_000_000)
    elif case == "garbage":
        token = "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"
    elif case == "not_in_aud":
        token = idp.mint_token("payment-provider")  # aud: shop-api, account
    else:
        token = idp.mint_token("shop-api")
        head, payload, sig = token.split(".")
        token = f"{head}.{payload}.{sig[:-4]}AAAA"
    response = _introspect(idp, dev_env, client, token)
    assert (response.status_code, response.json()) == (200, {"active": False})


def test_introspection_requires_client_authentication(idp: DevIdP) -> None:
    response = post(idp.introspection_endpoint, {"token": idp.mint_token("shop-api"),
                                                 "client_id": "notification-service",
                                                 "client_secret": "wrong"})
    assert (response.status_code, response.json()["error"]) == (401, "unauthorized_client")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl binary not installed")
def test_the_seeds_curl_command(idp: DevIdP, dev_env: dict[str, str]) -> None:
    url = f"http://localhost:{idp.port}/realms/techstore/protocol/openid-connect/token"
    out = subprocess.run(
        ["curl", "-sS", "-X", "POST", url, "-d", "grant_type=client_credentials",
         "-d", "client_id=shop-api", "-d",
         f"client_secret={dev_env['SHOP_API_CLIENT_SECRET']}"],
        capture_output=True, text=True, timeout=30, check=True)
    body = json.loads(out.stdout)
    assert body["expires_in"] == 300
    assert body["token_type"] == "Bearer"
    assert claims_of(body["access_token"])["azp"] == "shop-api"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl binary not installed")
def test_the_seeds_curl_command_under_auth(auth_idp: DevIdP, dev_env: dict[str, str]) -> None:
    url = f"http://localhost:{auth_idp.port}/auth/realms/techstore/protocol/openid-connect/token"
    out = subprocess.run(
        ["curl", "-sS", "-X", "POST", url, "-d", "grant_type=client_credentials",
         "-d", "client_id=shop-api", "-d",
         f"client_secret={dev_env['SHOP_API_CLIENT_SECRET']}"],
        capture_output=True, text=True, timeout=30, check=True)
    body = json.loads(out.stdout)
    assert (body["expires_in"], body["token_type"]) == (300, "Bearer")


@pytest.mark.parametrize(("form", "status", "body"), [
    ({"client_id": "notification-service"}, 400,
     {"error": "invalid_request", "error_description": "Token not provided."}),
    ({"token": "x", "token_type_hint": "id_token"}, 400,
     {"error": "invalid_request", "error_description": "Unsupported token type."}),
])
def test_introspection_request_errors(idp: DevIdP, dev_env: dict[str, str],
                                      form: dict[str, str], status: int,
                                      body: dict[str, str]) -> None:
    response = post(idp.introspection_endpoint, form, auth=(
        "notification-service", dev_env["NOTIFICATION_SERVICE_CLIENT_SECRET"]))
    assert (response.status_code, response.json()) == (status, body)


def test_introspection_by_a_public_client_is_forbidden(public_idp: DevIdP) -> None:
    response = post(public_idp.introspection_endpoint, {"token": "x", "client_id": "storefront"})
    assert (response.status_code, response.json()) == (
        403, {"error": "invalid_request", "error_description": "Client not allowed."})
