"""svcauth.aiohttp over aiohttp's real server on loopback: the server middleware answers every
attack row exactly as the other integrations do; the client middleware sets the token and
makes the one safe 401 retry, against a real server too."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from aiohttp_kit import aiohttp_server
from integration_kit import (
    AUDIENCE,
    CASES,
    CHALLENGE,
    ISSUER,
    KID,
    NOW,
    Case,
    check,
    make_guard,
    secrets_in,
    signing_key,
    token,
    unavailable_guard,
)

from caller.fakes import FakeClock, FakeTokenEndpoint, make_source, token_value
from svcauth._jwk import public_jwk
from svcauth.aiohttp import IDENTITY, BearerAuthMiddleware, ServiceAuthMiddleware, protect, public
from svcauth.caller import CachingTokenSource, ClientConfig, ClientCredentialsSource, ClientSecretBasic
from svcauth.devidp import DevIdP, load_env_file
from svcauth.receiver import RemoteKeySet, ServicePolicy, StaticKeySet, Verifier
from svcauth.receiver._guard import AuthDecision, Guard

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "techstore-realm.json"
ENV = load_env_file(ROOT / "deploy" / "dev.env")
READ_ROLE = "notification-service:notifications:read"

# -- server: the app every row is sent to -----------------------------------------------------


def read_guard() -> Guard[Any]:
    """Another policy: only inventory-sync, holding notifications:read."""
    jwks = {"keys": [public_jwk(signing_key(), kid=KID, alg="RS256", use="sig")]}
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, clock=lambda: float(NOW),
                        key_set=StaticKeySet(jwks, issuer=ISSUER))
    return Guard(verifier, ServicePolicy(allowed_clients=("inventory-sync",),
                                         required_roles=(READ_ROLE,)), realm="reads")


async def notifications(request: web.Request) -> web.Response:
    return web.json_response({"client_id": request[IDENTITY].client_id})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "identity": IDENTITY in request})


@public
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": "1", "identity": IDENTITY in request})


@protect(read_guard())
async def history(request: web.Request) -> web.Response:
    return web.json_response({"reader": request[IDENTITY].client_id})


@protect(read_guard())
class HistoryView(web.View):
    async def get(self) -> web.Response:
        return web.json_response({"reader": self.request[IDENTITY].client_id})


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str(request[IDENTITY].client_id)
    await ws.close()
    return ws


def server_app(guard: Guard[Any] | None = None, **options: Any) -> web.Application:
    app = web.Application(middlewares=[ServiceAuthMiddleware(guard or make_guard(), **options)])
    app.router.add_post("/notifications", notifications)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/version", version)
    app.router.add_get("/history", history)
    app.router.add_view("/history/view", HistoryView)
    app.router.add_get("/ws", websocket)
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[httpx.Client]:
    with aiohttp_server(server_app) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def _send(http: httpx.Client, case: Case) -> httpx.Response:
    return http.post("/notifications" + (f"?{case.query}" if case.query else ""),
                     headers=case.headers())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_row_is_answered_exactly_over_aiohttps_server(server: httpx.Client, case: Case) -> None:
    response = _send(server, case)
    check(case, response.status_code, response.json(), response.headers)
    if response.status_code >= 400:
        assert int(response.headers["content-length"]) == len(response.content)


def test_public_path_and_public_handler_need_no_token_and_get_no_identity(server: httpx.Client) -> None:
    assert server.get("/healthz").json() == {"status": "ok", "identity": False}
    assert server.get("/version").json() == {"version": "1", "identity": False}
    # open means unchecked: even a bad token is not looked at
    assert server.get("/version", headers={"Authorization": "Bearer abc"}).status_code == 200
    # public_paths is an exact match
    assert server.get("/healthz/").status_code == 401


def test_unknown_path_is_guarded_before_404(server: httpx.Client) -> None:
    anonymous = server.get("/no-such-route")
    assert (anonymous.status_code, anonymous.json()) == (401, {"error": "No token provided"})
    assert server.get("/no-such-route", headers={"Authorization": f"Bearer {token()}"}).status_code == 404


@pytest.mark.parametrize("path", ["/history", "/history/view"])
def test_protect_gives_a_route_its_own_guard(server: httpx.Client, path: str) -> None:
    from integration_kit import claims

    reader = token(claims("inventory-sync", resource_access={"notification-service": {
        "roles": ["notifications:read"]}}))
    ok = server.get(path, headers={"Authorization": f"Bearer {reader}"})
    assert (ok.status_code, ok.json()) == (200, {"reader": "inventory-sync"})
    # shop-api passes the app's guard but not this route's
    refused = server.get(path, headers={"Authorization": f"Bearer {token()}"})
    assert (refused.status_code, refused.json()) == (403, {"error": "Unauthorized service"})
    # the route's guard announces its own realm
    anonymous = server.get(path)
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="reads"'
    # and the app's guard still rules the other routes
    assert server.post("/notifications", headers={"Authorization": f"Bearer {reader}"}).status_code == 403


@pytest.mark.anyio
async def test_websocket_handshake_needs_a_token() -> None:
    with aiohttp_server(server_app) as url:
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url + "/ws")
            async with http.ws_connect(url + "/ws", headers={"Authorization": f"Bearer {token()}"}) as ws:
                assert await ws.receive_str() == "shop-api"
    assert refused.value.status == 401
    assert refused.value.headers is not None
    assert refused.value.headers["WWW-Authenticate"] == CHALLENGE


def test_include_code_adds_the_stable_code() -> None:
    with aiohttp_server(lambda: server_app(include_code=True)) as url:
        response = httpx.post(url + "/notifications", headers={"Authorization": "Bearer abc"})
    assert response.json() == {"error": "Invalid token", "code": "token_malformed"}


def test_unavailable_key_set_is_503_with_retry_after() -> None:
    with aiohttp_server(lambda: server_app(unavailable_guard())) as url:
        response = httpx.post(url + "/notifications", headers={"Authorization": f"Bearer {token()}"})
    assert (response.status_code, response.json()) == (
        503, {"error": "Authentication temporarily unavailable"})
    assert response.headers["retry-after"] == "30"
    assert response.headers.get("www-authenticate") is None


def test_audit_gets_method_and_path_never_the_query() -> None:
    seen: list[AuthDecision] = []
    guard = make_guard()
    guard.audit = seen.append
    with aiohttp_server(lambda: server_app(guard)) as url:
        httpx.post(url + "/notifications?x=1", headers={"Authorization": f"Bearer {token()}"})
        httpx.post(url + "/notifications", headers={"Authorization": "Bearer abc"})
    assert [(d.allowed, d.code, d.status, d.client_id, d.endpoint) for d in seen] == [
        (True, None, 200, "shop-api", "POST /notifications"),
        (False, "token_malformed", 401, None, "POST /notifications"),
    ]


def test_no_token_reaches_the_logs(server: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for case in CASES:
            _send(server, case)
    assert secrets_in(caplog.text) == []
    assert CHALLENGE in "".join(_send(server, CASES[2]).headers.get_list("www-authenticate"))


# -- client: a real resource server that refuses first, then accepts ---------------------------


class ResourceServer:
    """Refuses the first ``refusals`` requests with (status, WWW-Authenticate), then 200;
    records every (Authorization, body) it received."""

    def __init__(self, status: int = 200, challenge: str | None = None, refusals: int = 1) -> None:
        self.status, self.challenge, self.refusals = status, challenge, refusals
        self.seen: list[tuple[str | None, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.headers.get("Authorization"), await request.read()))
        if len(self.seen) <= self.refusals and self.status != 200:
            headers = {"WWW-Authenticate": self.challenge} if self.challenge else {}
            return web.json_response({"error": "no"}, status=self.status, headers=headers)
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


def _source() -> tuple[CachingTokenSource, FakeTokenEndpoint]:
    endpoint = FakeTokenEndpoint()
    return CachingTokenSource(make_source(endpoint, FakeClock())), endpoint


# (name, status, WWW-Authenticate, expected sends, expected token fetches): httpx's rows
RETRY_CASES = [
    ("401 invalid_token retries once", 401, 'Bearer realm="x", error="invalid_token"', 2, 2),
    ("401 with no error retries once", 401, 'Bearer realm="x"', 2, 2),
    ("401 with no header retries once", 401, None, 2, 2),
    ("401 invalid_request is not retried", 401, 'Bearer error="invalid_request"', 1, 1),
    ("403 is never retried", 403, 'Bearer error="insufficient_scope"', 1, 1),
    ("403 without a challenge is never retried", 403, None, 1, 1),
    ("200 is just sent", 200, None, 1, 1),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "status", "challenge", "sends", "fetches"), RETRY_CASES,
                         ids=[c[0] for c in RETRY_CASES])
@pytest.mark.parametrize("body", ["bytes", "json", "form"])
async def test_client_sets_the_token_and_retries_only_a_replayable_401(
    name: str, status: int, challenge: str | None, sends: int, fetches: int, body: str,
) -> None:
    source, endpoint = _source()
    rs = ResourceServer(status, challenge)
    data: dict[str, Any] = {"bytes": {"data": b"payload"}, "json": {"json": {"a": 1}},
                            "form": {"data": {"a": "1"}}}[body]
    sent = {"bytes": b"payload", "json": b'{"a": 1}', "form": b"a=1"}[body]
    with aiohttp_server(rs.app) as url:
        async with (aiohttp.ClientSession(middlewares=(BearerAuthMiddleware(source),)) as http,
                    http.post(url + "/orders", **data) as response):
            final = response.status
    assert (len(rs.seen), endpoint.count) == (sends, fetches)
    assert rs.seen[0] == (f"Bearer {token_value(1)}", sent)
    if sends == 2:
        assert rs.seen[1] == (f"Bearer {token_value(2)}", sent)
        assert final == 200
    else:
        assert final == status


@pytest.mark.anyio
async def test_client_retries_at_most_once() -> None:
    source, endpoint = _source()
    rs = ResourceServer(401, 'Bearer error="invalid_token"', refusals=10)
    with aiohttp_server(rs.app) as url:
        async with (aiohttp.ClientSession(middlewares=(BearerAuthMiddleware(source),)) as http,
                    http.get(url + "/") as response):
            assert response.status == 401
    assert (len(rs.seen), endpoint.count) == (2, 2)
    assert [a for a, _ in rs.seen] == [f"Bearer {token_value(1)}", f"Bearer {token_value(2)}"]


@pytest.mark.anyio
async def test_client_never_replays_a_streamed_body(tmp_path: Path) -> None:
    source, endpoint = _source()
    rs = ResourceServer(401, 'Bearer error="invalid_token"', refusals=10)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"chunk-1,"
        yield b"chunk-2"

    path = tmp_path / "body"
    path.write_bytes(b"file-body")
    with aiohttp_server(rs.app) as url:
        async with aiohttp.ClientSession(middlewares=(BearerAuthMiddleware(source),)) as http:
            async with http.post(url + "/stream", data=chunks()) as response:
                assert response.status == 401
            with path.open("rb") as fh:
                async with http.post(url + "/file", data=fh) as response:
                    assert response.status == 401
    assert rs.seen == [(f"Bearer {token_value(1)}", b"chunk-1,chunk-2"),
                       (f"Bearer {token_value(1)}", b"file-body")]
    assert endpoint.count == 1


@pytest.mark.anyio
async def test_client_token_stays_on_its_origin_across_a_redirect() -> None:
    source, _ = _source()
    elsewhere = ResourceServer()
    with aiohttp_server(elsewhere.app) as other:

        def redirecting() -> web.Application:
            async def go(request: web.Request) -> web.Response:
                raise web.HTTPTemporaryRedirect(other + "/landing")

            app = web.Application()
            app.router.add_get("/start", go)
            return app

        with aiohttp_server(redirecting) as url:
            async with (aiohttp.ClientSession(middlewares=(BearerAuthMiddleware(source),)) as http,
                        http.get(url + "/start") as response):
                assert response.status == 200
    assert elsewhere.seen == [(None, b"")]


@pytest.mark.anyio
async def test_client_origins_lists_where_the_token_may_go() -> None:
    source, endpoint = _source()
    listed, unlisted = ResourceServer(), ResourceServer()
    with aiohttp_server(listed.app) as a, aiohttp_server(unlisted.app) as b:
        auth = BearerAuthMiddleware(source, origins=[a + "/any/path"])
        async with aiohttp.ClientSession(middlewares=(auth,)) as http:
            for url in (b, a, b):
                async with http.get(url + "/x") as response:
                    assert response.status == 200
    assert listed.seen == [(f"Bearer {token_value(1)}", b"")]
    assert unlisted.seen == [(None, b""), (None, b"")]
    assert endpoint.count == 1


# -- end to end: the embedded provider's tokens, client middleware → server middleware -----------


@pytest.mark.anyio
async def test_devidp_tokens_end_to_end_through_both_middlewares() -> None:
    with DevIdP(REALM_FILE, env=ENV) as idp:
        key_set = RemoteKeySet(idp.issuer + "/protocol/openid-connect/certs", issuer=idp.issuer)
        verifier = Verifier(issuer=idp.issuer, audience="notification-service", key_set=key_set)
        guard = Guard(verifier, ServicePolicy(
            allowed_clients=("shop-api",),
            required_roles=("notification-service:notifications:send",)), realm="techstore")

        def sources(client_id: str) -> CachingTokenSource:
            secret = ENV[client_id.upper().replace("-", "_") + "_CLIENT_SECRET"]
            return CachingTokenSource(ClientCredentialsSource(ClientConfig(
                client_id=client_id, auth=ClientSecretBasic(secret), issuer=idp.issuer)))

        with aiohttp_server(lambda: server_app(guard)) as url:
            for client_id, status, body in [
                ("shop-api", 200, {"client_id": "shop-api"}),
                ("reporting-job", 403, {"error": "Unauthorized service"}),
            ]:
                middleware = BearerAuthMiddleware(sources(client_id))
                async with aiohttp.ClientSession(middlewares=(middleware,)) as http:
                    for _ in range(2):
                        async with http.post(url + "/notifications", json={"orderId": "o-1"}) as r:
                            assert (r.status, await r.json()) == (status, body)
                # one token per client for both calls, and no retry on the 403
                assert idp.stats()["token_requests"][client_id]["client_credentials"] == 1


def test_with_aiohttps_default_limits_an_oversized_token_never_reaches_the_middleware() -> None:
    # aiohttp's parser refuses a header line over 8190 bytes itself: a plain-text 400, no
    # challenge (docs/integrations/aiohttp.md says how to let svcauth answer it instead).
    seen: list[AuthDecision] = []
    guard = make_guard()
    guard.audit = seen.append
    oversized = next(c for c in CASES if c.name == "oversized_token")
    with aiohttp_server(lambda: server_app(guard), max_field_size=None) as url:
        response = httpx.post(url + "/notifications", headers=oversized.headers())
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers.get("www-authenticate") is None
    assert seen == []


def test_import_without_aiohttp_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # any import of it now raises ImportError
    monkeypatch.delitem(sys.modules, "svcauth.aiohttp")
    with pytest.raises(ImportError, match=r"pip install 'svcauth\[aiohttp\]'"):
        importlib.import_module("svcauth.aiohttp")
