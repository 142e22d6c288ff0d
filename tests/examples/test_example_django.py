"""examples/django_service for real: the embedded provider on the techstore realm, the
example started with ``manage.py runserver`` on a free 127.0.0.1 port with the seed's
variables, and calls with tokens from the provider's token endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import example_server
import httpx
import pytest

from svcauth.devidp import DevIdP, load_env_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "django_service"
REALM_FILE = ROOT / "deploy" / "keycloak" / "techstore-realm.json"
DEV_ENV = load_env_file(ROOT / "deploy" / "dev.env")
SEND = "notification-service:notifications:send"
CHALLENGE = 'Bearer realm="techstore"'


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdP]:
    with DevIdP(REALM_FILE, env=DEV_ENV) as provider:
        yield provider


@pytest.fixture(scope="module")
def service(idp: DevIdP) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SVCAUTH_"))}
    env.update(DEV_ENV)
    env.update(KEYCLOAK_URL=idp.base_url, KEYCLOAK_REALM="techstore", KEYCLOAK_AUTH_PATH="")
    process, url = example_server.start(
        lambda port: [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=EXAMPLE, env=env)
    try:
        yield url
    finally:
        example_server.stop(process)


def _token(idp: DevIdP, client_id: str) -> str:
    secret = DEV_ENV[client_id.upper().replace("-", "_") + "_CLIENT_SECRET"]
    response = httpx.post(idp.token_endpoint, data={"grant_type": "client_credentials"},
                          auth=(client_id, secret), timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _invalid(description: str) -> str:
    return CHALLENGE + f', error="invalid_token", error_description="{description}"'


def test_an_allowed_caller_holding_the_role_is_served(idp: DevIdP, service: str) -> None:
    response = httpx.post(service + "/api/notifications", timeout=10,
                          headers={"Authorization": f"Bearer {_token(idp, 'shop-api')}"})
    assert (response.status_code, response.json()) == (202, {"queued": True, "from": "shop-api"})


@pytest.mark.parametrize(("caller", "status", "body", "challenge"), [
    (None, 401, {"error": "No token provided"}, CHALLENGE),
    ("payment-provider", 401, {"error": "Invalid token"},
     _invalid("The access token is meant for another audience")),
    ("expired", 401, {"error": "Token expired"}, _invalid("The access token expired")),
    ("reporting-job", 403, {"error": "Insufficient scope"},
     CHALLENGE + ', error="insufficient_scope", error_description="The access token lacks a '
     f'required role or scope", scope="{SEND}"'),
    ("inventory-sync", 403, {"error": "Unauthorized service"}, None),
])
def test_other_callers_get_the_exact_refusal(
    idp: DevIdP, service: str, caller: str | None, status: int, body: dict[str, str],
    challenge: str | None,
) -> None:
    headers = {}
    if caller == "expired":
        headers["Authorization"] = "Bearer " + idp.mint_token("shop-api", now=time.time() - 3600)
    elif caller == "inventory-sync":  # a private_key_jwt client: minted as its token would be
        headers["Authorization"] = "Bearer " + idp.mint_token("inventory-sync")
    elif caller is not None:
        headers["Authorization"] = f"Bearer {_token(idp, caller)}"
    response = httpx.post(service + "/api/notifications", headers=headers, timeout=10)
    assert (response.status_code, response.json()) == (status, body)
    assert response.headers.get("www-authenticate") == challenge
    assert response.headers["cache-control"] == "no-store"


def test_the_async_view_admits_every_allowed_client_and_refuses_others(
    idp: DevIdP, service: str,
) -> None:
    def status_of(client_id: str) -> httpx.Response:
        return httpx.get(service + "/api/status", timeout=10,
                         headers={"Authorization": f"Bearer {_token(idp, client_id)}"})

    assert status_of("reporting-job").json() == {"caller": "reporting-job"}
    refused = status_of("payment-provider")
    assert (refused.status_code, refused.json()) == (401, {"error": "Invalid token"})
    assert httpx.get(service + "/api/status", timeout=10).status_code == 401


@pytest.mark.parametrize(("drop", "code", "says"), [
    (None, 0, "System check identified no issues"),
    ("KEYCLOAK_URL", 1, "(svcauth.E001) svcauth: SVCAUTH['KEYCLOAK_URL'] is not set"),
])
def test_manage_py_check_reports_a_missing_setting(drop: str | None, code: int, says: str) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "SVCAUTH_", "KEYCLOAK_", "OIDC_"))}
    env.update({k: v for k, v in DEV_ENV.items() if k != drop})
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=EXAMPLE, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == code, result.stdout + result.stderr
    assert says in result.stdout + result.stderr
