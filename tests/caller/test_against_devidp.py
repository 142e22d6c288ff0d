"""The caller against the embedded development identity provider over loopback: every
client-authentication method, discovery, a wrong secret, retries and single flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import jwt
import pytest

from svcauth import TokenEndpointError
from svcauth._jws import b64url_decode
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJWT,
    Token,
)
from svcauth.devidp import DevIdP, load_env_file

from .fakes import FakeClock, refreshing, wait_until

ROOT = Path(__file__).resolve().parents[2]
REALM = ROOT / "deploy" / "keycloak" / "techstore-realm.json"
ENV = load_env_file(ROOT / "deploy" / "dev.env")
KEY = ROOT / "deploy" / "dev" / "inventory-sync.key.pem"


@pytest.fixture
def idp() -> Iterator[DevIdP]:
    with DevIdP(REALM, env=ENV) as provider:
        yield provider


def _claims(token: str, idp: DevIdP) -> dict[str, object]:
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in idp.jwks()["keys"] if k["kid"] == header["kid"])
    return jwt.decode(token, key=jwt.PyJWK(jwk).key, algorithms=["RS256"], issuer=idp.issuer,  # type: ignore[no-any-return]
                      options={"verify_aud": False})



def _requests(idp: DevIdP, client_id: str) -> int:
    return int(idp.stats()["token_requests"].get(client_id, {}).get("client_credentials", 0))


@pytest.mark.parametrize(("client_id", "auth"), [
    ("shop-api", lambda idp: ClientSecretBasic(ENV["SHOP_API_CLIENT_SECRET"])),
    ("cart-reminder-job", lambda idp: ClientSecretPost(ENV["CART_REMINDER_JOB_CLIENT_SECRET"])),
    ("inventory-sync", lambda idp: PrivateKeyJWT(KEY)),                      # aud = token endpoint
    ("inventory-sync", lambda idp: PrivateKeyJWT(KEY, audience=idp.issuer)),  # aud = issuer
], ids=["client_secret_basic", "client_secret_post", "private_key_jwt", "private_key_jwt-aud-issuer"])
def test_every_client_authentication_method_gets_a_verifiable_token(
    idp: DevIdP, client_id: str, auth: object,
) -> None:
    config = ClientConfig(client_id=client_id, auth=auth(idp), issuer=idp.issuer)  # type: ignore[operator]
    source = CachingTokenSource(ClientCredentialsSource(config))
    token = source.token()
    claims = _claims(token, idp)
    assert (claims["azp"], claims["iss"]) == (client_id, idp.issuer)
    assert source.token() == token
    assert _requests(idp, client_id) == 1


@pytest.mark.anyio
async def test_async_fetch_with_keycloak_url_and_auth_path_auto(idp: DevIdP) -> None:
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(ENV["SHOP_API_CLIENT_SECRET"]),
                          keycloak_url=idp.base_url, realm="techstore", auth_path="auto")
    source = CachingTokenSource(ClientCredentialsSource(config))
    token = await source.atoken()
    assert _claims(token, idp)["azp"] == "shop-api"
    assert await source.atoken() == token


def test_a_wrong_secret_fails_fast_and_is_remembered(idp: DevIdP) -> None:
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic("not-the-secret"),
                          token_endpoint=idp.token_endpoint)
    source = CachingTokenSource(ClientCredentialsSource(config))
    for _ in range(3):
        with pytest.raises(TokenEndpointError) as info:
            source.token()
        # Keycloak 26 (and the dev IdP) answer a wrong secret with 401 unauthorized_client.
        assert (info.value.status, info.value.code) == (401, "unauthorized_client")
        assert "not-the-secret" not in str(info.value) + repr(info.value) + info.value.body
    assert _requests(idp, "shop-api") == 1


def test_private_key_jwt_assertion_is_single_use_with_60s_lifetime(idp: DevIdP) -> None:
    seen: list[str] = []
    auth = PrivateKeyJWT(KEY)
    original = auth.apply

    def spy(client_id: str, endpoint: str):  # type: ignore[no-untyped-def]
        headers, form = original(client_id, endpoint)
        seen.append(dict(form)["client_assertion"])
        return headers, form

    auth.apply = spy  # type: ignore[method-assign]
    source = ClientCredentialsSource(ClientConfig(client_id="inventory-sync", auth=auth,
                                                  token_endpoint=idp.token_endpoint))
    source.fetch()
    source.fetch()
    import json
    payloads = [json.loads(b64url_decode(a.split(".")[1])) for a in seen]
    assert payloads[0]["jti"] != payloads[1]["jti"]
    for p in payloads:
        assert (p["iss"], p["sub"], p["aud"]) == ("inventory-sync", "inventory-sync", idp.token_endpoint)
        assert p["exp"] - p["iat"] == 60


@pytest.mark.parametrize(("fault", "times"), [
    ({"status": 503}, 2), ({"status": 500}, 1), ({"status": 429, "retry_after": 1}, 1),
    ({"delay": 6.0}, 1),  # a timeout: the first attempt gives up after 3 s
])
def test_token_endpoint_faults_recover_by_retry(idp: DevIdP, fault: dict[str, float], times: int) -> None:
    idp.set_fault("token", times=times, **fault)  # type: ignore[arg-type]
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(ENV["SHOP_API_CLIENT_SECRET"]),
                          token_endpoint=idp.token_endpoint, timeout=3.0)  # a loaded machine's
    token = ClientCredentialsSource(config).fetch()  # healthy answer stays one request
    assert _claims(token.access_token, idp)["azp"] == "shop-api"
    assert idp.stats()["faults_served"] == {"token": times}
    assert _requests(idp, "shop-api") == times + 1


def test_50_threads_on_a_cold_cache_make_one_request_over_loopback(idp: DevIdP) -> None:
    idp.set_fault("token", delay=0.3, times=1)  # hold the first request so everyone piles up
    config = ClientConfig(client_id="reporting-job",
                          auth=ClientSecretBasic(ENV["REPORTING_JOB_CLIENT_SECRET"]),
                          token_endpoint=idp.token_endpoint)
    source = CachingTokenSource(ClientCredentialsSource(config))
    barrier = threading.Barrier(50)
    results: list[str] = []

    def call() -> None:
        barrier.wait()
        results.append(source.token())

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 50 and len(set(results)) == 1
    assert _requests(idp, "reporting-job") == 1


def test_20_simulated_minutes_of_calls_cost_5_token_requests_over_loopback(idp: DevIdP) -> None:
    """Real 300 s tokens from the embedded provider, a caller clock the test moves: 10,000
    calls over 1,200 s make 5 requests and are never handed a token past its serving limit."""
    clock = FakeClock(start=0.0)
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(ENV["SHOP_API_CLIENT_SECRET"]),
                          token_endpoint=idp.token_endpoint)
    source = CachingTokenSource(ClientCredentialsSource(config, clock=clock))
    seen: dict[str, Token] = {}
    for i in range(10_000):
        clock.now = i * 0.12
        access = source.token()
        wait_until(lambda: not refreshing())
        cached = source.cached()
        if cached is not None and cached.access_token not in seen:
            seen[cached.access_token] = cached
        token = seen[access]
        assert token.lifetime == pytest.approx(300)
        assert clock.now < source.policy.fresh_until(token) < token.expires_at
    assert _requests(idp, "shop-api") == 5
    assert len(seen) == 5


@pytest.mark.anyio
async def test_a_2s_refresh_over_loopback_adds_no_wait_to_callers(idp: DevIdP) -> None:
    """The provider takes 2 s to answer the refresh: every call made meanwhile (sync and
    async) gets the old, still-valid token without waiting for the fetch."""
    clock = FakeClock(start=0.0)
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(ENV["SHOP_API_CLIENT_SECRET"]),
                          token_endpoint=idp.token_endpoint)
    source = CachingTokenSource(ClientCredentialsSource(config, clock=clock))
    first = await source.atoken()
    idp.set_fault("token", delay=2.0, times=1)
    clock.now = 256.0  # past every refresh point (240..255 s), still served until 261 s
    started = time.monotonic()
    served_sync: list[str] = []
    served_async: list[str] = []
    def refreshed() -> bool:
        cached = source.cached()
        return cached is not None and cached.access_token != first

    while not refreshed():  # the refresh is in flight until its token is cached
        served_async.append(await source.atoken())
        served_sync.append(source.token())
        await anyio.sleep(0.01)
    elapsed = time.monotonic() - started
    assert elapsed >= 1.9  # the refresh really took the provider's 2 s
    # Each caller returned at once: many rounds of calls fit in the 2 s the fetch took.
    assert len(served_async) > 10  # waiting for the fetch would allow one round
    assert set(served_async) == set(served_sync) == {first}
    assert await source.atoken() != first
    assert _requests(idp, "shop-api") == 2
