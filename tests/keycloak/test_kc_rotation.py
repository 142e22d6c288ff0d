"""Signing-key rotation on a real Keycloak while traffic runs (issue 6 item 3).

A copy of the techstore realm is imported through the Admin API (rotation changes a realm's
keys; the session's ``techstore`` stays untouched). A thread fetches shop-api tokens and
verifies them in a bounded loop while the test adds an ``rsa-generated`` key provider with a
higher priority, then disables the old key. The key set's monotonic clock is injected: it
moves only when the test says so, which makes "exactly one refetch" exact.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from kc_admin import KeycloakAdmin
from keycloak_support import REALM_FILE, SECRET_VARS, header_of
from svcauth._errors import InvalidTokenError
from svcauth.caller import ClientConfig, ClientCredentialsSource, ClientSecretBasic
from svcauth.keycloak import KeycloakEndpoints
from svcauth.receiver import (
    RemoteKeySet,
    ServicePolicy,
    VerifiedTokenCache,
    Verifier,
    refusal_for,
)

pytestmark = pytest.mark.keycloak

POLICY = ServicePolicy(allowed_clients={"shop-api"},
                       required_roles={"notification-service:notifications:send"})
MAX_ROUNDS = 400
"""Upper bound of the traffic loop (it normally stops far earlier, when told)."""


class ManualClock:
    """A monotonic clock that moves only by ``advance``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Traffic:
    """What the traffic thread saw: kids of verified tokens in order, and every refusal."""

    kids: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    old_token_checks: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(scope="module")
def rotation_realm(keycloak: KeycloakEndpoints,
                   keycloak_env: dict[str, str]) -> Iterator[tuple[KeycloakAdmin, KeycloakEndpoints]]:
    admin = KeycloakAdmin(keycloak)
    name = "rotation-" + uuid.uuid4().hex[:8]
    endpoints = admin.import_realm_copy(REALM_FILE, keycloak_env, name)
    try:
        yield admin, endpoints
    finally:
        admin.delete_realm(name)
        admin.close()


def _run(traffic: Traffic, source: ClientCredentialsSource, verifier: Verifier,
         uncached: Verifier, old_token: str) -> None:
    for _ in range(MAX_ROUNDS):
        if traffic.stop.is_set():
            return
        try:
            token = source.fetch().access_token
            POLICY.authorize(verifier.verify(token))
            traffic.kids.append(header_of(token)["kid"])
            uncached.verify(old_token)  # the old key's token, checked in full every round
            traffic.old_token_checks += 1
        except Exception as exc:  # a refused valid request: record and go on
            traffic.refused.append(f"{type(exc).__name__}:{getattr(exc, 'code', '')}")
        time.sleep(0.02)


def _wait(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _published_kids(jwks_uri: str) -> set[str]:
    return {k["kid"] for k in httpx.get(jwks_uri, timeout=10).json()["keys"]}


def test_rotation_under_traffic_one_refetch_no_refusals_then_old_key_retired(
        rotation_realm: tuple[KeycloakAdmin, KeycloakEndpoints],
        keycloak_env: dict[str, str]) -> None:
    admin, realm = rotation_realm
    clock = ManualClock()
    keys = RemoteKeySet(realm.jwks_uri, issuer=realm.issuer, clock=clock)
    cache = VerifiedTokenCache()
    verifier = Verifier(issuer=realm.issuer, audience="notification-service", key_set=keys,
                        cache=cache)
    uncached = Verifier(issuer=realm.issuer, audience="notification-service", key_set=keys,
                        cache=None)
    source = ClientCredentialsSource(ClientConfig(
        client_id="shop-api", token_endpoint=realm.token_endpoint,
        auth=ClientSecretBasic(keycloak_env[SECRET_VARS["shop-api"]])))

    old_token = source.fetch().access_token
    old_kid = header_of(old_token)["kid"]
    verifier.verify(old_token)
    assert keys.fetch_count == 1
    (old_key,) = [k for k in admin.signing_keys(realm.realm) if k["kid"] == old_kid]
    clock.advance(keys.cooldown + 1)  # an unknown kid may now trigger a refetch

    traffic = Traffic()
    worker = threading.Thread(target=_run, args=(traffic, source, verifier, uncached, old_token),
                              daemon=True)
    worker.start()
    try:
        _wait(lambda: len(traffic.kids) >= 3, 60, "traffic on the old key")
        before = keys.fetch_count
        priority = max(int(k["providerPriority"]) for k in admin.signing_keys(realm.realm)) + 100
        admin.add_key_provider(realm.realm, "rotated", "rsa-generated", {
            "priority": [str(priority)], "algorithm": ["RS256"], "keySize": ["2048"],
            "enabled": ["true"], "active": ["true"]})
        _wait(lambda: any(kid != old_kid for kid in traffic.kids), 60, "a token of the new key")
        seen = len(traffic.kids)
        _wait(lambda: len(traffic.kids) >= seen + 5, 60, "traffic on the new key")
    finally:
        traffic.stop.set()
        worker.join(30)
    new_kids = {kid for kid in traffic.kids if kid != old_kid}

    assert traffic.refused == []
    assert len(new_kids) == 1
    assert keys.fetch_count - before == 1
    assert traffic.old_token_checks == len(traffic.kids)
    assert traffic.kids[-1] in new_kids  # Keycloak signs with the higher priority from now on
    assert old_kid in _published_kids(realm.jwks_uri)  # passive, still published
    assert uncached.verify(old_token)["azp"] == "shop-api"

    # Retire the old key: Keycloak stops publishing it at once.
    admin.update_component_config(realm.realm, old_key["providerId"], {"enabled": ["false"]})
    assert old_kid not in _published_kids(realm.jwks_uri)
    assert cache.get(old_token) is not None  # still cached: the key set has not looked yet
    clock.advance(keys.max_age)  # keys due: the next verification refetches them
    new_token = source.fetch().access_token
    assert verifier.verify(new_token)["azp"] == "shop-api"
    assert keys.fetch_count - before == 2
    with pytest.raises(InvalidTokenError) as refused:
        verifier.verify(old_token)
    assert refused.value.code == "key_not_found"
    refusal = refusal_for(refused.value)
    assert refusal.status == 401
    assert 'error="invalid_token"' in (refusal.header("WWW-Authenticate") or "")
    assert cache.get(old_token) is None  # dropped, not served from the cache
    assert keys.fetch_count - before == 2  # the unknown kid waits for the cooldown
    source.close()
