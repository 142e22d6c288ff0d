"""The storefront's session and token renewal with an injected clock: the provider and
shop-api are ``httpx.MockTransport`` callables, the app runs in-process (Starlette's
TestClient), nothing sleeps."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mockmart.config import MockMartConfig
from mockmart.services.storefront.app import COOKIE, Storefront, create_app
from mockmart.services.storefront.oidc import OidcClient, TokenSet
from mockmart.services.storefront.settings import StorefrontSettings
from mockmart.services.storefront.shop import ShopClient

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

ISSUER = "http://127.0.0.1:9/realms/techstore"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Provider:
    """The token endpoint: answers refreshes (``refuse`` makes it say invalid_grant)."""

    def __init__(self) -> None:
        self.refreshes: list[dict[str, str]] = []
        self.refuse = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            base = ISSUER + "/protocol/openid-connect"
            return httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": base + "/token",
                                             "authorization_endpoint": base + "/auth",
                                             "end_session_endpoint": base + "/logout"})
        form = dict(urllib.parse.parse_qsl(request.content.decode()))
        assert request.headers["authorization"].startswith("Basic ")
        self.refreshes.append(form)
        if self.refuse:
            return httpx.Response(400, json={"error": "invalid_grant",
                                             "error_description": "Session not active"})
        n = len(self.refreshes)
        return httpx.Response(200, json={"access_token": f"access-{n}", "expires_in": 300,
                                         "refresh_token": f"refresh-{n}"})


class Shop:
    """shop-api's orders: 401 for tokens in ``revoked``, else the token it was called with."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.revoked: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        self.seen.append(token)
        if token in self.revoked:
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"orders": [{"orderId": f"by-{token}", "status":
                                                     "confirmed", "total_cents": 100}]})


@pytest.fixture
def world() -> Iterator[tuple[TestClient, Storefront, Clock, Provider, Shop]]:
    clock, provider, shop = Clock(), Provider(), Shop()
    settings = StorefrontSettings(provider=MockMartConfig(
        client_id="storefront", keycloak_url="http://127.0.0.1:9",
        keycloak_public_url="http://127.0.0.1:9"), client_secret="s", session_idle=600.0)
    oidc = OidcClient(settings, clock=clock,
                      http=httpx.AsyncClient(transport=httpx.MockTransport(provider)))
    shop_client = ShopClient("http://shop", http=httpx.AsyncClient(
        base_url="http://shop", transport=httpx.MockTransport(shop)))
    front = Storefront(settings, clock=clock, oidc=oidc, shop=shop_client)
    with TestClient(create_app(storefront=front), follow_redirects=False) as client:
        yield client, front, clock, provider, shop


def _logged_in(client: TestClient, front: Storefront, clock: Clock, lifetime: float) -> str:
    session = front.sessions.create()
    session.tokens = TokenSet("access-0", "refresh-0", "id-0", clock.now + lifetime)
    session.user = {"username": "mario", "name": "Mario", "email": "m@example.com",
                    "roles": []}
    client.cookies.set(COOKIE, session.id)
    return session.id


def test_a_fresh_token_is_used_without_a_refresh(world: Any) -> None:
    client, front, clock, provider, shop = world
    _logged_in(client, front, clock, lifetime=300)
    assert client.get("/orders").status_code == 200
    assert (shop.seen, provider.refreshes) == (["access-0"], [])


def test_a_token_about_to_expire_is_renewed_before_the_call(world: Any) -> None:
    client, front, clock, provider, shop = world
    sid = _logged_in(client, front, clock, lifetime=300)
    clock.now += 291  # 9 s left: under the 10 s margin
    page = client.get("/orders")
    assert page.status_code == 200 and "by-access-1" in page.text
    assert provider.refreshes == [{"grant_type": "refresh_token", "refresh_token": "refresh-0"}]
    assert shop.seen == ["access-1"]
    tokens = front.sessions.get(sid).tokens
    assert (tokens.refresh_token, tokens.id_token, tokens.expires_at) == (
        "refresh-1", "id-0", clock.now + 300)  # the ID token is kept for the logout hint
    assert client.get("/orders").status_code == 200  # and reused
    assert (len(provider.refreshes), shop.seen) == (1, ["access-1", "access-1"])


def test_a_401_from_shop_api_renews_once_and_retries(world: Any) -> None:
    client, front, clock, provider, shop = world
    _logged_in(client, front, clock, lifetime=300)
    shop.revoked = {"access-0"}
    assert client.get("/orders").status_code == 200
    assert (shop.seen, len(provider.refreshes)) == (["access-0", "access-1"], 1)


def test_a_refused_refresh_logs_the_session_out_and_asks_to_log_in(world: Any) -> None:
    client, front, clock, provider, shop = world
    sid = _logged_in(client, front, clock, lifetime=300)
    clock.now += 400
    provider.refuse = True
    answer = client.get("/orders")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=%2Forders")
    assert shop.seen == []
    assert front.sessions.get(sid).tokens is None
    assert client.get("/orders").headers["location"] == "/login?next=%2Forders"
    assert len(provider.refreshes) == 1  # no second attempt without tokens


def test_an_idle_session_ends(world: Any) -> None:
    client, front, clock, _, _ = world
    sid = _logged_in(client, front, clock, lifetime=3600)
    clock.now += 599
    assert client.get("/orders").status_code == 200  # a request restarts the idle clock
    clock.now += 601
    assert client.get("/orders").status_code == 303
    assert front.sessions.get(sid) is None


def test_logout_goes_to_the_provider_with_the_id_token_hint(world: Any) -> None:
    client, front, clock, _, _ = world
    sid = _logged_in(client, front, clock, lifetime=300)
    csrf = front.sessions.get(sid).csrf
    out = client.post("/logout", data={"csrf": csrf})
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(out.headers["location"]).query))
    assert out.headers["location"].startswith(ISSUER + "/protocol/openid-connect/logout?")
    assert query == {"client_id": "storefront", "id_token_hint": "id-0",
                     "post_logout_redirect_uri": "http://testserver/"}
    assert front.sessions.get(sid) is None
    assert json.loads(client.get("/healthz").text)["sessions"] == 0
