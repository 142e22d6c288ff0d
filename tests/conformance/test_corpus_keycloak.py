"""Every realm file of the corpus, imported into the session's real Keycloak 26.7.3 (Admin REST
``POST /admin/realms``, into the same Keycloak the other tests use) and into the dev IdP; every
client-credentials and password request the realm allows is sent to both, and the answers must
match: status, error and description; the response's fields; every token's claim names, JSON
types and values, except the values that differ by nature (:data:`corpus.BY_NATURE`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from corpus import (
    REALM_FILES,
    Request,
    claims_of,
    comparable,
    comparable_response,
    requests_for,
)

from kc_admin import KeycloakAdmin
from svcauth.devidp import DevIdP
from svcauth.keycloak import KeycloakEndpoints
from svcauth.realm import realm_from_dict

# The module fixture may start the session's Keycloak (a minute, several on a loaded machine)
# and imports six realms before the first request: more than the default 300 s per test.
pytestmark = [pytest.mark.keycloak, pytest.mark.timeout(1200)]


def _load(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text("utf-8"))
    return data


ALL_REQUESTS = [r for path in REALM_FILES for r in requests_for(realm_from_dict(_load(path), {}))]


@pytest.fixture(scope="module")
def servers(keycloak: KeycloakEndpoints) -> Iterator[dict[str, tuple[str, str]]]:
    """Realm name -> (Keycloak token endpoint, dev IdP token endpoint)."""
    admin = KeycloakAdmin(keycloak)
    idps: list[DevIdP] = []
    out: dict[str, tuple[str, str]] = {}
    try:
        for path in REALM_FILES:
            data = _load(path)
            name = str(data["realm"])
            admin.delete_realm(name)
            response = admin.request("POST", "", data)
            assert response.status_code == 201, f"{path.name}: import HTTP {response.status_code}"
            idp = DevIdP(realm_from_dict(data, {})).start()
            idps.append(idp)
            kc_token = f"{keycloak.server_url}/realms/{name}/protocol/openid-connect/token"
            out[name] = (kc_token, idp.token_endpoint)
        yield out
    finally:
        for idp in idps:
            idp.stop()
        for path in REALM_FILES:
            admin.delete_realm(str(_load(path)["realm"]))
        admin.close()


def test_the_corpus_has_requests_of_both_grants_in_every_own_realm() -> None:
    grants = {(r.realm, r.grant) for r in ALL_REQUESTS}
    assert {g for _, g in grants} == {"client_credentials", "password"}
    assert {r for r, _ in grants} >= {"conf-mappers", "conf-own-scopes", "conf-scope-rules",
                                      "conf-booleans", "conf-full-export", "quickstart",
                                      "demo", "expiretest", "forge", "microcks"}


@pytest.mark.parametrize("request_", ALL_REQUESTS, ids=[r.id for r in ALL_REQUESTS])
def test_token_answer_matches_keycloak(servers: dict[str, tuple[str, str]],
                                       request_: Request) -> None:
    kc_url, dev_url = servers[request_.realm]
    kc = httpx.post(kc_url, data=request_.form(), timeout=30.0)
    dev = httpx.post(dev_url, data=request_.form(), timeout=30.0)
    assert dev.status_code == kc.status_code, (kc.text[:300], dev.text[:300])
    kc_body, dev_body = kc.json(), dev.json()
    if kc.status_code != 200:
        assert dev_body == kc_body
        return
    assert comparable_response(dev_body) == comparable_response(kc_body)
    for field in ("expires_in", "refresh_expires_in"):
        kc_left, dev_left = kc_body[field], dev_body[field]
        assert (kc_left == 0) == (dev_left == 0), field  # 0: no expiry (offline, no refresh)
        assert abs(kc_left - dev_left) <= 1, field
    for field in ("access_token", "id_token"):
        if field in kc_body:
            assert comparable(claims_of(dev_body[field])) == comparable(claims_of(kc_body[field])), field
    if "refresh_token" in kc_body:
        kc_refresh, dev_refresh = claims_of(kc_body["refresh_token"]), claims_of(dev_body["refresh_token"])
        assert sorted(dev_refresh) == sorted(kc_refresh)
        assert sorted(dev_refresh["scope"].split()) == sorted(kc_refresh["scope"].split())
