"""``svcauth doctor`` against the embedded DevIdP: a good setup and each broken one, exact lines."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcauth._cli import main
from svcauth._doctor import DoctorConfig, run_doctor
from svcauth.caller import ClientConfig, ClientSecretBasic
from svcauth.devidp import DevIdP, load_env_file

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy/keycloak/techstore-realm.json"
ENV = load_env_file(ROOT / "deploy/dev.env")
SEND = "notification-service:notifications:send"
CLIENT_FIX = ("check KEYCLOAK_CLIENT_ID={client} and its credential (KEYCLOAK_CLIENT_SECRET, "
              "_SECRET_FILE or _KEY_FILE) against the client in the realm; service accounts "
              "must be enabled on it")


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdP]:
    with DevIdP(REALM_FILE, env=ENV) as server:
        yield server


def _head(idp: DevIdP) -> list[str]:
    return [f"PASS discovery: {idp.discovery_url} answers, issuer as configured",
            "PASS clock: within 5 s of the provider (Date header)"]


def _good(idp: DevIdP, client: str) -> list[str]:
    return [*_head(idp), f"PASS token: {client} got a token from {idp.token_endpoint}",
            f"PASS signature: signed by a key of {idp.jwks_uri}; issuer and lifetime valid"]


def _doctor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], idp_url: str,
            client: str, secret: str, *flags: str) -> tuple[int, list[str]]:
    for name in ("OIDC_ISSUER", "KEYCLOAK_CLIENT_SECRET_FILE", "KEYCLOAK_CLIENT_KEY_FILE",
                 "KEYCLOAK_AUTH_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEYCLOAK_URL", idp_url)
    monkeypatch.setenv("KEYCLOAK_REALM", "techstore")
    monkeypatch.setenv("KEYCLOAK_CLIENT_ID", client)
    monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", secret)
    code = main(["doctor", *flags])
    out = capsys.readouterr().out
    assert secret not in out
    return code, out.splitlines()


def test_good_setup_passes_every_check(idp: DevIdP, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _doctor(monkeypatch, capsys, idp.base_url, "shop-api",
                          ENV["SHOP_API_CLIENT_SECRET"], "--audience", "notification-service",
                          "--allow-client", "shop-api", "--require-role", SEND)
    assert (code, lines) == (0, [*_good(idp, "shop-api"),
                                 "PASS audience: aud holds 'notification-service'",
                                 "PASS service-account: client_id equals azp",
                                 "PASS caller: 'shop-api' is allowed",
                                 f"PASS roles: holds {SEND}"])


def test_wrong_secret_fails_at_the_token_with_the_credential_fix(
        idp: DevIdP, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _doctor(monkeypatch, capsys, idp.base_url, "shop-api", "wrong-secret-value",
                          "--audience", "notification-service")
    assert (code, lines) == (1, [
        *_head(idp),
        "FAIL token: token endpoint answered HTTP 401 unauthorized_client: Invalid client or "
        f"Invalid client credentials (fix: {CLIENT_FIX.format(client='shop-api')})"])


def test_wrong_audience_names_the_role_or_mapper_fix(
        idp: DevIdP, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _doctor(monkeypatch, capsys, idp.base_url, "shop-api",
                          ENV["SHOP_API_CLIENT_SECRET"], "--audience", "inventory-sync")
    assert (code, lines) == (1, [
        *_good(idp, "shop-api"),
        "FAIL audience: aud is ['account', 'inventory-service', 'notification-service', 'rabbitmq'], "
        "expected 'inventory-sync' "
        "(fix: add a role of inventory-sync to shop-api's service account, or an audience mapper "
        "(oidc-audience-mapper, included.client.audience=inventory-sync) on shop-api)",
        "PASS service-account: client_id equals azp",
        "PASS caller: any service account is allowed",
        "PASS roles: none required"])


def test_missing_role_and_disallowed_caller_name_the_grant(
        idp: DevIdP, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _doctor(monkeypatch, capsys, idp.base_url, "cart-reminder-job",
                          ENV["CART_REMINDER_JOB_CLIENT_SECRET"], "--audience",
                          "notification-service", "--allow-client", "shop-api",
                          "--require-role", "notification-service:notifications:read",
                          "--require-role", SEND)
    assert (code, lines) == (1, [
        *_good(idp, "cart-reminder-job"),
        "PASS audience: aud holds 'notification-service'",
        "PASS service-account: client_id equals azp",
        "FAIL caller: 'cart-reminder-job' is not in ['shop-api'] (fix: add cart-reminder-job to "
        "the receiver's allowed clients, or call with an allowed client)",
        "FAIL roles: missing notification-service:notifications:read (fix: grant the client role "
        "notifications:read of notification-service to cart-reminder-job's service account)"])


def test_unreachable_provider_fails_discovery_and_skips_the_rest(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # bound, never listening: refused, and nobody else's
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        code, lines = _doctor(monkeypatch, capsys, url, "shop-api", ENV["SHOP_API_CLIENT_SECRET"],
                              "--audience", "notification-service")
    assert (code, lines) == (1, [
        f"FAIL discovery: {url}/realms/techstore/.well-known/openid-configuration unreachable "
        "(ConnectError) (fix: start the provider, or correct KEYCLOAK_URL / OIDC_ISSUER)",
        "SKIP clock: no Date header and no token from the provider",
        "SKIP token: needs discovery"])


def test_issuer_pinned_elsewhere_fails_discovery_with_the_found_issuer(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with DevIdP(REALM_FILE, env=ENV, hostname="http://idp.example:8443") as pinned:
        code, lines = _doctor(monkeypatch, capsys, pinned.base_url, "shop-api",
                              ENV["SHOP_API_CLIENT_SECRET"], "--audience", "notification-service")
    assert (code, lines[0]) == (1, (
        "FAIL discovery: issuer is 'http://idp.example:8443/realms/techstore', configured "
        f"'{pinned.base_url}/realms/techstore' (fix: set KEYCLOAK_URL to the provider's public "
        "URL (Keycloak's --hostname) or OIDC_ISSUER to http://idp.example:8443/realms/techstore)"))


@pytest.mark.parametrize(("skew", "status", "detail"), [
    (12, "WARN", "this host is 12 s ahead of the provider (Date header), within the 30 s leeway"),
    (100, "FAIL", "this host is 100 s ahead of the provider (Date header), beyond the 30 s leeway"),
])
def test_clock_ahead_of_the_provider_warns_then_fails(idp: DevIdP, skew: int, status: str,
                                                      detail: str) -> None:
    config = DoctorConfig(
        client=ClientConfig(client_id="shop-api", auth=ClientSecretBasic(ENV["SHOP_API_CLIENT_SECRET"]),
                            keycloak_url=idp.base_url, realm="techstore"),
        audience="notification-service")
    results = run_doctor(config, clock=lambda: time.time() + skew)
    assert results[1].line() == f"{status} clock: {detail} (fix: synchronise this host's clock (NTP))"
    # A host 100 s ahead still verifies a 300 s token; the token itself is fine.
    assert [r.status for r in results[2:]] == ["PASS"] * 6
