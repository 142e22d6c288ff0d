"""The doctor's pure checks (claims, clock) and its discovery step over a mock transport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from svcauth._doctor import DoctorConfig, check_claims, check_clock, exit_code, run_doctor
from svcauth.caller import ClientConfig, ClientSecretBasic

ISSUER = "http://127.0.0.1:9/realms/techstore"


def _config(**overrides: Any) -> DoctorConfig:
    client = ClientConfig(client_id="shop-api", auth=ClientSecretBasic("x" * 12), issuer=ISSUER)
    return DoctorConfig(**{"client": client, "audience": "notification-service", **overrides})


def _claims(**overrides: Any) -> dict[str, Any]:
    return {"aud": ["account", "notification-service"], "azp": "shop-api",
            "client_id": "shop-api",
            "resource_access": {"notification-service": {"roles": ["notifications:send"]}},
            **overrides}


@pytest.mark.parametrize(("skew", "line"), [
    (0.0, "PASS clock: within 5 s of the provider (Date header)"),
    (-5.0, "PASS clock: within 5 s of the provider (Date header)"),
    (6.2, "WARN clock: this host is 6 s ahead of the provider (Date header), within the 30 s "
          "leeway (fix: synchronise this host's clock (NTP))"),
    (-30.0, "WARN clock: this host is 30 s behind the provider (Date header), within the 30 s "
            "leeway (fix: synchronise this host's clock (NTP))"),
    (-31.0, "FAIL clock: this host is 31 s behind the provider (Date header), beyond the 30 s "
            "leeway (fix: synchronise this host's clock (NTP))"),
])
def test_clock_thresholds(skew: float, line: str) -> None:
    assert check_clock(skew, _config()).line() == line


def test_good_claims_pass_every_check() -> None:
    results = check_claims(_claims(), _config(allowed_clients=("shop-api",),
                                              required_roles=("notification-service:notifications:send",)))
    assert [r.status for r in results] == ["PASS"] * 4
    assert exit_code(results) == 0


@pytest.mark.parametrize(("claims", "name", "line"), [
    (_claims(aud="account"), "audience",
     "FAIL audience: aud is ['account'], expected 'notification-service' (fix: add a role of "
     "notification-service to shop-api's service account, or an audience mapper "
     "(oidc-audience-mapper, included.client.audience=notification-service) on shop-api)"),
    (_claims(client_id=None), "service-account",
     "FAIL service-account: not a service-account token (client_id is not azp) (fix: enable "
     "service accounts on shop-api and add the service_account default client scope (it "
     "carries client_id))"),
    (_claims(resource_access={}), "roles",
     "FAIL roles: missing notification-service:notifications:send (fix: grant the client role "
     "notifications:send of notification-service to shop-api's service account)"),
])
def test_each_broken_claim_fails_its_own_check_only(claims: dict[str, Any], name: str,
                                                    line: str) -> None:
    results = check_claims(claims, _config(required_roles=("notification-service:notifications:send",)))
    failed = [r for r in results if r.status == "FAIL"]
    assert [(r.name, r.line()) for r in failed] == [(name, line)]
    assert exit_code(results) == 1


def test_realm_role_fix_names_a_realm_role() -> None:
    [*_, roles] = check_claims(_claims(), _config(required_roles=("realm:auditor",)))
    assert roles.line() == ("FAIL roles: missing realm:auditor (fix: grant the realm role "
                            "auditor to shop-api's service account)")


def test_discovery_404_fails_with_the_realm_fix_and_reads_no_further() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(404, headers={"Date": "Thu, 26 Nov 2026 05:00:00 GMT"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        results = run_doctor(_config(), http=http, clock=lambda: 1795669200.5)
    assert [r.line() for r in results] == [
        f"FAIL discovery: {ISSUER}/.well-known/openid-configuration answered HTTP 404 (fix: check "
        "KEYCLOAK_REALM and KEYCLOAK_AUTH_PATH ('/auth' for the legacy layout))",
        "PASS clock: within 5 s of the provider (Date header)",
        "SKIP token: needs discovery"]
    assert seen == [f"{ISSUER}/.well-known/openid-configuration"]


def _provider_without_date(now: float) -> httpx.MockTransport:
    """A Keycloak-like provider that, like Keycloak 26, sends no Date header."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from svcauth._jwk import public_jwk
    from svcauth._jws import sign_compact

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": ISSUER, "aud": ["notification-service", "account"], "azp": "shop-api",
              "client_id": "shop-api", "typ": "Bearer", "iat": int(now), "exp": int(now) + 300}
    token = sign_compact(claims, key, "RS256", {"typ": "JWT", "kid": "k1"})
    routes = {
        "/realms/techstore/.well-known/openid-configuration": {
            "issuer": ISSUER, "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
            "jwks_uri": f"{ISSUER}/protocol/openid-connect/certs"},
        "/realms/techstore/protocol/openid-connect/token": {
            "access_token": token, "token_type": "Bearer", "expires_in": 300},
        "/realms/techstore/protocol/openid-connect/certs": {
            "keys": [public_jwk(key, kid="k1", alg="RS256", use="sig")]},
    }
    return httpx.MockTransport(lambda request: httpx.Response(200, json=routes[request.url.path]))


@pytest.mark.parametrize(("ahead", "line"), [
    (0.0, "PASS clock: within 5 s of the provider (token iat)"),
    (20.0, "WARN clock: this host is 20 s ahead of the provider (token iat), within the 30 s "
           "leeway (fix: synchronise this host's clock (NTP))"),
])
def test_without_a_date_header_the_clock_is_read_from_the_token_iat(ahead: float, line: str) -> None:
    provider_now = 1795669200.0
    with httpx.Client(transport=_provider_without_date(provider_now)) as http:
        results = run_doctor(_config(), http=http, clock=lambda: provider_now + 0.5 + ahead)
    assert results[1].line() == line
    assert [r.status for r in results if r.name != "clock"] == ["PASS"] * 7
