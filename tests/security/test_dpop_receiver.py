"""The receiver's DPoP settings: challenges per mode, server nonces, the external URL behind
a proxy, the bounded replay cache, and the framework integrations passing the request."""

from __future__ import annotations

from typing import Any

import pytest
from attack_kit import NOW
from dpop_kit import (
    URL,
    access_token,
    caller_key,
    guard,
    proof,
    request,
)

from svcauth import AuthError, ConfigurationError, UseDPoPNonceError
from svcauth.receiver import (
    DPoPNonces,
    DPoPSettings,
    IntrospectionVerifier,
    ReplayCache,
    RequestInfo,
    ServicePolicy,
    refusal_for,
)
from svcauth.receiver._guard import Guard


def _bound() -> str:
    return access_token(caller_key().jkt)


def test_allowed_mode_challenges_bearer_then_dpop() -> None:
    g = guard("allowed")
    with pytest.raises(AuthError) as caught:
        g.authenticate(["Bearer not-a-jwt"], request=request([]))
    refusal = refusal_for(caught.value, realm="techstore", dpop=g.dpop)
    challenge = refusal.header("WWW-Authenticate")
    assert challenge == (
        'Bearer realm="techstore", error="invalid_token", error_description="The access '
        'token is malformed", DPoP realm="techstore", error="invalid_token", '
        'error_description="The access token is malformed", algs="ES256 EdDSA PS256 RS256"')


def test_required_mode_without_credentials_challenges_dpop_only() -> None:
    g = guard("required", algorithms=("ES256",))
    with pytest.raises(AuthError) as caught:
        g.authenticate(None, request=request([]))
    refusal = refusal_for(caught.value, realm="techstore", dpop=g.dpop)
    assert (refusal.status, refusal.body) == (401, {"error": "No token provided"})
    assert refusal.header("WWW-Authenticate") == 'DPoP realm="techstore", algs="ES256"'


def test_off_mode_keeps_todays_answers() -> None:
    g = guard("off")
    assert g.dpop is None and not g.wants_request
    with pytest.raises(AuthError) as caught:
        g.authenticate([f"DPoP {_bound()}"])
    assert caught.value.code == "scheme_unsupported"
    assert refusal_for(caught.value, realm="techstore", dpop=g.dpop).header(
        "WWW-Authenticate") == 'Bearer realm="techstore"'


def test_server_nonce_is_asked_for_then_accepted() -> None:
    nonces = DPoPNonces(lifetime=300, clock=lambda: float(NOW))
    g = guard(nonces=nonces)
    token = _bound()
    with pytest.raises(UseDPoPNonceError) as caught:
        g.authenticate([f"DPoP {token}"], request=request([proof(token=token)]))
    nonce = caught.value.nonce
    refusal = refusal_for(caught.value, realm="techstore", dpop=g.dpop)
    assert refusal.status == 401
    assert refusal.header("DPoP-Nonce") == nonce
    assert 'error="use_dpop_nonce"' in (refusal.header("WWW-Authenticate") or "")
    wrong = proof(token=token, claims={"nonce": "1.forged"})
    with pytest.raises(UseDPoPNonceError):
        g.authenticate([f"DPoP {token}"], request=request([wrong]))
    good = proof(token=token, claims={"nonce": nonce})
    assert g.authenticate([f"DPoP {token}"], request=request([good])).client_id == "shop-api"


def test_nonce_expires_after_two_windows() -> None:
    now = [float(NOW)]
    nonces = DPoPNonces(lifetime=100, clock=lambda: now[0])
    issued = nonces.current()
    now[0] += 100
    assert nonces.valid(issued)
    now[0] += 100
    assert not nonces.valid(issued)


def test_external_url_is_what_htu_is_compared_with() -> None:
    settings = DPoPSettings(mode="required", external_url="https://payments.example")
    assert settings.request_url("http", "10.0.0.7:8000", "/charges") == URL
    g = guard(external_url="https://payments.example")
    token = _bound()
    seen_by_app = request([proof(token=token)], url=settings.request_url(
        "http", "10.0.0.7:8000", "/charges"))
    assert g.authenticate([f"DPoP {token}"], request=seen_by_app).client_id == "shop-api"


def test_htu_normalisation_ignores_case_default_port_and_query() -> None:
    g = guard()
    token = _bound()
    sent = proof(token=token, url="HTTPS://Payments.Example:443/charges")
    info = request([sent], url="https://payments.example/charges")
    assert g.authenticate([f"DPoP {token}"], request=info).client_id == "shop-api"


def test_replay_cache_stays_bounded_and_refuses_what_it_forgot() -> None:
    cache = ReplayCache(maxsize=2)
    g = guard(replay=cache)
    token = _bound()
    proofs = [proof(token=token, claims={"iat": NOW - 3 + i}) for i in range(3)]
    for p in proofs:
        g.authenticate([f"DPoP {token}"], request=request([p]))
    assert len(cache) == 2
    # The first proof was evicted: it must not become replayable.
    with pytest.raises(AuthError) as caught:
        g.authenticate([f"DPoP {token}"], request=request([proofs[0]]))
    assert caught.value.code == "dpop_iat_stale"


def test_replay_entries_leave_once_their_proof_is_too_old() -> None:
    cache = ReplayCache(maxsize=10)
    assert cache.add("a", 100.0, 160.0, now=100.0)
    assert not cache.add("a", 100.0, 160.0, now=110.0)
    assert cache.add("b", 170.0, 230.0, now=170.0)
    assert len(cache) == 1


def test_guard_refuses_dpop_with_a_verifier_that_cannot() -> None:
    introspection = IntrospectionVerifier.__new__(IntrospectionVerifier)
    with pytest.raises(ConfigurationError):
        Guard(introspection, ServicePolicy(), dpop=DPoPSettings(mode="allowed"))


@pytest.mark.parametrize("bad", [{"mode": "on"}, {"algorithms": ("HS256",)},
                                 {"algorithms": ()}, {"max_age": 0},
                                 {"external_url": "payments.example"}])
def test_settings_refuse_what_cannot_work(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        DPoPSettings(**bad)


def _fastapi_client(g: Guard[Any]) -> Any:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from svcauth.fastapi import ServiceAuth, install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    caller_dep = Depends(ServiceAuth(g))

    @app.post("/charges")
    async def charge(caller: Any = caller_dep) -> dict[str, str]:
        return {"caller": caller.client_id}

    return TestClient(app, base_url="https://payments.example")


def _flask_client(g: Guard[Any]) -> Any:
    from flask import Flask
    from flask import g as flask_g

    from svcauth.flask import require_service

    app = Flask(__name__)

    @app.post("/charges")
    @require_service(g)
    def charge() -> dict[str, str]:
        return {"caller": flask_g.identity.client_id}

    return app.test_client()


def _starlette_client(g: Guard[Any]) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from svcauth.starlette import ServiceAuthBackend, on_error

    async def charge(request: Request) -> JSONResponse:
        return JSONResponse({"caller": request.user.identity.client_id})

    app = Starlette(routes=[Route("/charges", charge, methods=["POST"])], middleware=[
        Middleware(AuthenticationMiddleware, backend=ServiceAuthBackend(g), on_error=on_error)])
    return TestClient(app, base_url="https://payments.example")


@pytest.mark.parametrize("make", [_fastapi_client, _starlette_client, _flask_client],
                         ids=["fastapi", "starlette", "flask"])
def test_integrations_pass_method_url_and_proof(make: Any) -> None:
    g = guard()
    client = make(g)
    token = _bound()
    url = "https://payments.example/charges"
    ok = client.post(url, headers={"Authorization": f"DPoP {token}",
                                   "DPoP": proof(token=token, url=url)})
    assert ok.status_code == 200
    body = ok.json() if callable(ok.json) else ok.json  # Flask's is a property
    assert body == {"caller": "shop-api"}
    wrong = client.post(url, headers={"Authorization": f"DPoP {token}",
                                      "DPoP": proof(token=token, method="PUT", url=url)})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == (
        'DPoP realm="techstore", error="invalid_dpop_proof", error_description="The DPoP '
        'proof is for another HTTP method", algs="ES256 EdDSA PS256 RS256"')


@pytest.mark.parametrize(("path", "root_path"), [("/api/charges", "/api"), ("/charges", "/api")],
                         ids=["path-includes-root", "path-without-root"])
def test_request_from_scope_names_the_url_the_caller_used(path: str, root_path: str) -> None:
    from svcauth.receiver import request_from_scope

    scope = {"type": "http", "method": "POST", "scheme": "https", "path": path,
             "root_path": root_path, "query_string": b"a=1",
             "headers": [(b"host", b"payments.example"), (b"dpop", b"p1")]}
    info = request_from_scope(scope, DPoPSettings(mode="required"))
    assert info == RequestInfo("POST", "https://payments.example/api/charges", ["p1"])
