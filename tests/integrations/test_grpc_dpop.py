"""DPoP over gRPC on real servers on loopback (sync and grpc.aio): the caller's call
credentials send ``authorization: DPoP <token>`` and a fresh ``dpop`` proof per call, with
DPoP-bound tokens of the embedded provider (client ``payment-gateway-dpop``); the
interceptors check the proof where the method's guard has DPoP settings. The attack rows
end with their exact status, details and ``svcauth-error`` code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_kit import (
    CLIENT_OPTIONS,
    DENIED,
    GRPC_CASES,
    OK,
    SEND,
    UNAUTH,
    aio_notifications,
    aio_server,
    call,
    dumps,
    loads,
    sync_notifications,
    sync_server,
)
from integration_kit import make_guard

from svcauth import ConfigurationError
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    DPoPKey,
)
from svcauth.caller._dpop import access_token_hash
from svcauth.devidp import DevIdP, load_env_file
from svcauth.grpc import (
    AsyncServiceAuthInterceptor,
    MethodGuards,
    ServiceAuthInterceptor,
    local_channel_credentials,
)
from svcauth.grpc._dpop import caller_htu, receiver_htu
from svcauth.receiver import DPoPNonces, DPoPSettings, ServicePolicy, StaticKeySet, Verifier
from svcauth.receiver._dpop import normalise_htu
from svcauth.receiver._guard import Guard

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "techstore-realm.json"
ENV = load_env_file(ROOT / "deploy" / "dev.env")
CLIENT = "payment-gateway-dpop"
SECRET = ENV["PAYMENT_GATEWAY_DPOP_CLIENT_SECRET"]
OTHER = "/mockmart.v1.Notifications/Watch"


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdP]:
    with DevIdP(REALM_FILE, env=ENV) as provider:
        yield provider


def _guard(idp: DevIdP, mode: str, target: str) -> Guard[Any]:
    verifier = Verifier(issuer=idp.issuer, audience="notification-service",
                        key_set=StaticKeySet(idp.jwks()["keys"], issuer=idp.issuer))
    return Guard(verifier, ServicePolicy(required_roles={
        "notification-service:notifications:send"}), realm="techstore",
        dpop=DPoPSettings(mode=mode, external_url=f"http://{target}"))  # type: ignore[arg-type]


class _Late(grpc.ServerInterceptor):
    """Delegates to an interceptor set once the server's port (hence external_url) is known."""

    inner: Any = None

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        return self.inner.intercept_service(continuation, details)


class _AioLate(grpc.aio.ServerInterceptor):
    inner: Any = None

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        return await self.inner.intercept_service(continuation, details)


@contextmanager
def _server(idp: DevIdP, kind: str, mode: str) -> Iterator[str]:
    """A notification server on 127.0.0.1 whose methods all require (or allow) DPoP."""
    late: Any = _Late() if kind == "sync" else _AioLate()
    make = ServiceAuthInterceptor if kind == "sync" else AsyncServiceAuthInterceptor
    running = (sync_server(sync_notifications(), [late]) if kind == "sync"
               else aio_server(aio_notifications, lambda: [late]))
    with running as target:
        guard = _guard(idp, mode, target)
        late.inner = make(MethodGuards({"/mockmart.v1.Notifications/": guard},
                                       realm="techstore"))
        yield target


@pytest.fixture(scope="module", params=["sync", "aio"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def required(idp: DevIdP, kind: str) -> Iterator[str]:
    with _server(idp, kind, "required") as target:
        yield target


@pytest.fixture(scope="module")
def allowed(idp: DevIdP, kind: str) -> Iterator[str]:
    with _server(idp, kind, "allowed") as target:
        yield target


def _source(idp: DevIdP, key: DPoPKey) -> CachingTokenSource:
    return CachingTokenSource(ClientCredentialsSource(ClientConfig(
        client_id=CLIENT, auth=ClientSecretBasic(SECRET), token_endpoint=idp.token_endpoint,
        dpop=key)))


@dataclass(frozen=True)
class Bound:
    """A DPoP-bound token of the embedded provider and the key it is bound to."""

    token: str
    key: DPoPKey


@pytest.fixture(scope="module")
def bound(idp: DevIdP) -> Bound:
    key = DPoPKey.generate()
    source = _source(idp, key)
    token = source.token()
    cached = source.cached()
    assert cached is not None and cached.token_type == "DPoP"
    return Bound(token, key)


def _htu(target: str, method: str = SEND) -> str:
    return f"http://{target}{method}"


# -- the caller's call credentials, end to end ------------------------------------------

def test_sync_call_credentials_send_a_bound_token_and_a_proof_per_call(
        idp: DevIdP, required: str) -> None:
    source = _source(idp, DPoPKey.generate())
    with grpc.secure_channel(required, local_channel_credentials(source),
                             options=CLIENT_OPTIONS) as channel:
        outcomes = [call(channel, SEND, {"n": i}) for i in range(3)]
    # Three calls with one token: each proof was new (a replayed one would be refused).
    assert [(o.code, o.response) for o in outcomes] == [(OK, {"client_id": CLIENT})] * 3


def test_aio_call_credentials_send_a_bound_token_and_a_proof_per_call(
        idp: DevIdP, required: str) -> None:
    source = _source(idp, DPoPKey.generate())

    async def calls() -> list[Any]:
        async with grpc.aio.secure_channel(
                required, local_channel_credentials(source, aio=True),
                options=CLIENT_OPTIONS) as channel:
            stub = channel.unary_unary(SEND, request_serializer=dumps,
                                       response_deserializer=loads)
            return [await stub({"n": i}, timeout=20) for i in range(3)]

    assert asyncio.run(calls()) == [{"client_id": CLIENT}] * 3


# -- the attack rows ----------------------------------------------------------------------

Rows = Callable[[Bound, str], list[tuple[str, str]]]


def _dpop(bound: Bound, proof: str) -> list[tuple[str, str]]:
    return [("authorization", f"DPoP {bound.token}"), ("dpop", proof)]


def _proof(bound: Bound, target: str, *, method: str = "POST", rpc: str = SEND,
           token: str | None = None, key: DPoPKey | None = None) -> str:
    return (key or bound.key).proof(method, _htu(target, rpc),
                                    ath=access_token_hash(token or bound.token))


def _stale(bound: Bound, target: str) -> list[tuple[str, str]]:
    old = DPoPKey(bound.key._key, clock=lambda: time.time() - 600)
    return _dpop(bound, old.proof("POST", _htu(target), ath=access_token_hash(bound.token)))


INVALID_DPOP = "Invalid DPoP proof"
DPOP_ROWS: list[tuple[str, Rows, grpc.StatusCode, str | None, str | None]] = [
    ("valid", lambda b, t: _dpop(b, _proof(b, t)), OK, None, None),
    ("proof_for_another_method", lambda b, t: _dpop(b, _proof(b, t, rpc=OTHER)), UNAUTH,
     "dpop_htu_mismatch", INVALID_DPOP),
    ("proof_for_another_authority",
     lambda b, t: _dpop(b, _proof(b, t.replace("127.0.0.1", "localhost"))), UNAUTH,
     "dpop_htu_mismatch", INVALID_DPOP),
    ("proof_with_htm_get", lambda b, t: _dpop(b, _proof(b, t, method="GET")), UNAUTH,
     "dpop_htm_mismatch", INVALID_DPOP),
    ("wrong_ath", lambda b, t: _dpop(b, _proof(b, t, token=b.token + "x")), UNAUTH,
     "dpop_ath_mismatch", INVALID_DPOP),
    ("key_is_not_cnf_jkt", lambda b, t: _dpop(b, _proof(b, t, key=DPoPKey.generate())),
     UNAUTH, "dpop_jkt_mismatch", INVALID_DPOP),
    ("stale_iat", _stale, UNAUTH, "dpop_iat_stale", INVALID_DPOP),
    ("no_proof", lambda b, t: [("authorization", f"DPoP {b.token}")], UNAUTH,
     "dpop_proof_missing", INVALID_DPOP),
    ("two_proofs", lambda b, t: [*_dpop(b, _proof(b, t)), ("dpop", _proof(b, t))], UNAUTH,
     "dpop_proof_repeated", INVALID_DPOP),
    ("bound_token_as_bearer", lambda b, t: [("authorization", f"Bearer {b.token}")], UNAUTH,
     "dpop_required", "No token provided"),
]


@pytest.mark.parametrize(("name", "rows", "code", "error", "details"), DPOP_ROWS,
                         ids=[r[0] for r in DPOP_ROWS])
def test_dpop_rows_where_dpop_is_required(required: str, bound: Bound, name: str, rows: Rows,
                                          code: grpc.StatusCode, error: str | None,
                                          details: str | None) -> None:
    with grpc.insecure_channel(required, options=CLIENT_OPTIONS) as channel:
        outcome = call(channel, SEND, {"n": 1}, metadata=rows(bound, required))
    assert (outcome.code, outcome.trailer("svcauth-error"), outcome.details or None) == (
        code, error, details), outcome
    if code == OK:
        assert outcome.response == {"client_id": CLIENT}
    else:
        assert outcome.response is None
        assert "DPoP" in (outcome.trailer("www-authenticate") or "")


def test_a_replayed_proof_is_refused(required: str, bound: Bound) -> None:
    metadata = _dpop(bound, _proof(bound, required))
    with grpc.insecure_channel(required, options=CLIENT_OPTIONS) as channel:
        first = call(channel, SEND, {"n": 1}, metadata=metadata)
        again = call(channel, SEND, {"n": 1}, metadata=metadata)
    assert (first.code, first.response) == (OK, {"client_id": CLIENT})
    assert (again.code, again.trailer("svcauth-error"), again.details) == (
        UNAUTH, "dpop_replayed", INVALID_DPOP)


def test_where_dpop_is_allowed_a_bound_token_sent_as_bearer_is_refused(
        allowed: str, bound: Bound) -> None:
    with grpc.insecure_channel(allowed, options=CLIENT_OPTIONS) as channel:
        as_bearer = call(channel, SEND, {"n": 1},
                         metadata=[("authorization", f"Bearer {bound.token}")])
        as_dpop = call(channel, SEND, {"n": 1}, metadata=_dpop(bound, _proof(bound, allowed)))
    assert (as_bearer.code, as_bearer.trailer("svcauth-error")) == (UNAUTH, "dpop_bound_token")
    assert (as_dpop.code, as_dpop.response) == (OK, {"client_id": CLIENT})


# The kit's Bearer attack rows against a guard that also allows DPoP: the same status and
# code (the challenge names both schemes, so only its scheme list differs).
KIT_GUARD = make_guard()


@pytest.mark.parametrize("case", GRPC_CASES, ids=[c.name for c in GRPC_CASES])
def test_the_bearer_attack_rows_are_unchanged_with_dpop_allowed(case: Any) -> None:
    guard = Guard(KIT_GUARD.verifier, KIT_GUARD.policy, realm=KIT_GUARD.realm,
                  dpop=DPoPSettings(mode="allowed", external_url="http://notifications.test"))
    guards = MethodGuards({"/mockmart.v1.Notifications/": guard}, realm=guard.realm)
    with sync_server(sync_notifications(), [ServiceAuthInterceptor(guards)]) as target, \
            grpc.insecure_channel(target, options=CLIENT_OPTIONS) as channel:
        outcome = call(channel, SEND, {"n": 1}, metadata=case.metadata())
    assert (outcome.code, outcome.trailer("svcauth-error"), outcome.details or None) == (
        case.code, case.svcauth_error, case.details), (case.name, outcome)
    assert outcome.code in (OK, UNAUTH, DENIED)


# -- the htu rule and its configuration ---------------------------------------------------

@pytest.mark.parametrize(("service_url", "method", "htu"), [
    ("://127.0.0.1:50051/mockmart.v1.Notifications", "Send",
     "http://127.0.0.1:50051/mockmart.v1.Notifications/Send"),
    ("https://Inventory.Example:443/pkg.v1.Svc", "Reserve",
     "https://inventory.example:443/pkg.v1.Svc/Reserve"),
])
def test_caller_htu_normalises_what_grpc_gives(service_url: str, method: str, htu: str) -> None:
    assert caller_htu(service_url, method) == htu


def test_both_sides_build_the_same_htu() -> None:
    caller = caller_htu("https://inventory.example:443/pkg.v1.Svc", "Reserve")
    receiver = receiver_htu(DPoPSettings(mode="required",
                                         external_url="https://Inventory.example/"),
                            "/pkg.v1.Svc/Reserve", "k")
    assert normalise_htu(caller) == normalise_htu(receiver) == (
        "https://inventory.example/pkg.v1.Svc/Reserve")


@pytest.mark.parametrize("bad", ["", "127.0.0.1:1/pkg.Svc", "://127.0.0.1:1"])
def test_caller_htu_refuses_another_shape(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        caller_htu(bad, "M")


@pytest.mark.parametrize(("settings", "words"), [
    (DPoPSettings(mode="required"), "external_url"),
    (DPoPSettings(mode="required", external_url="http://x", nonces=DPoPNonces()), "nonces"),
])
def test_a_dpop_guard_without_a_usable_setting_is_refused_at_configuration(
        settings: DPoPSettings, words: str) -> None:
    guard = Guard(KIT_GUARD.verifier, KIT_GUARD.policy, dpop=settings)
    with pytest.raises(ConfigurationError) as info:
        MethodGuards({"/pkg.v1.Svc/": guard})
    assert words in str(info.value)
