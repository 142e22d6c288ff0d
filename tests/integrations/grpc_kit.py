"""What the gRPC tests share: JSON-over-generic-handler services (no generated stubs), real
servers on 127.0.0.1 (sync and grpc.aio, a free port each) and a call that returns the exact
outcome (status, details, trailing metadata, response).

Messages are JSON bytes through ``grpc.method_handlers_generic_handler``: the interceptor
sees exactly what it sees with protobuf stubs (method name, metadata, handler kinds), and no
generated code has to live in the repository or be built at test time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from integration_kit import CASES, CHALLENGE, Case, make_guard

from svcauth.grpc import (
    MethodGuards,
    current_identity,
)

NOTIFY = "mockmart.v1.Notifications"
SEND = f"/{NOTIFY}/Send"
WATCH = f"/{NOTIFY}/Watch"        # unary request, stream of responses
UPLOAD = f"/{NOTIFY}/Upload"      # stream of requests, unary response
CHAT = f"/{NOTIFY}/Chat"          # both streams
PURGE = f"/{NOTIFY}/Purge"        # served, but listed in no guard table
HEALTH = "/grpc.health.v1.Health/Check"
# A token of 20 000 characters must reach svcauth (and be refused as token_too_large)
# instead of tripping gRPC's own 8 KiB metadata limit first.
SERVER_OPTIONS = [("grpc.max_metadata_size", 64 * 1024)]
CLIENT_OPTIONS = [("grpc.max_metadata_size", 64 * 1024)]


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    return json.loads(data)


def _who() -> dict[str, str]:
    return {"client_id": current_identity().client_id}


def _no_identity() -> dict[str, str]:
    try:
        current_identity()
    except LookupError:
        return {"identity": "none"}
    return {"identity": "leaked"}


def sync_notifications() -> tuple[grpc.GenericRpcHandler, ...]:
    """The notification service's methods, sync handlers."""

    def send(request: Any, context: grpc.ServicerContext) -> Any:
        return _who()

    def watch(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        for i in range(request["n"]):
            yield {**_who(), "i": i}

    def upload(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        return {**_who(), "count": sum(1 for _ in requests)}

    def chat(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        for request in requests:
            yield {**_who(), "echo": request}

    def purge(request: Any, context: grpc.ServicerContext) -> Any:
        return {"purged": True}

    def health(request: Any, context: grpc.ServicerContext) -> Any:
        return {"status": "SERVING", **_no_identity()}

    return _handlers(send, watch, upload, chat, purge, health)


def _handlers(send: Any, watch: Any, upload: Any, chat: Any, purge: Any,
              health: Any) -> tuple[grpc.GenericRpcHandler, ...]:
    """The notification service's and the health check's method tables (sync or aio
    behaviours alike)."""
    kw = {"request_deserializer": loads, "response_serializer": dumps}
    return grpc.method_handlers_generic_handler(NOTIFY, {
        "Send": grpc.unary_unary_rpc_method_handler(send, **kw),
        "Watch": grpc.unary_stream_rpc_method_handler(watch, **kw),
        "Upload": grpc.stream_unary_rpc_method_handler(upload, **kw),
        "Chat": grpc.stream_stream_rpc_method_handler(chat, **kw),
        "Purge": grpc.unary_unary_rpc_method_handler(purge, **kw),
    }), grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(health, **kw)})


def aio_notifications() -> tuple[grpc.GenericRpcHandler, ...]:
    """The same methods with asyncio handlers (coroutines and async generators)."""

    async def send(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await asyncio.sleep(0)
        return _who()

    async def watch(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        for i in range(request["n"]):
            await asyncio.sleep(0)
            yield {**_who(), "i": i}

    async def upload(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return {**_who(), "count": len([r async for r in requests])}

    async def chat(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        async for request in requests:
            yield {**_who(), "echo": request}

    async def purge(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return {"purged": True}

    async def health(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return {"status": "SERVING", **_no_identity()}

    return _handlers(send, watch, upload, chat, purge, health)


def notification_guards() -> MethodGuards:
    """The kit's guard for every method of the notification service except Purge (listed
    nowhere), and the health check public."""
    guard = make_guard()
    return MethodGuards({SEND: guard, WATCH: guard, UPLOAD: guard, CHAT: guard},
                        realm=guard.realm, public=(HEALTH,))


@contextmanager
def sync_server(handlers: Any, interceptors: list[Any]) -> Iterator[str]:
    """A ``grpc.server`` on 127.0.0.1 (free port); yields its target."""
    server = grpc.server(ThreadPoolExecutor(max_workers=4), interceptors=interceptors,
                         options=SERVER_OPTIONS)
    server.add_generic_rpc_handlers(tuple(handlers))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None).wait(10)


@contextmanager
def aio_server(handlers: Callable[[], Any], interceptors: Callable[[], list[Any]]) -> Iterator[str]:
    """A ``grpc.aio.server`` on 127.0.0.1 (free port), on an event loop of its own thread."""
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def start() -> None:
        server = grpc.aio.server(interceptors=interceptors(), options=SERVER_OPTIONS)
        server.add_generic_rpc_handlers(tuple(handlers()))
        ready["port"] = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        ready["server"] = server
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(20):
        raise RuntimeError("grpc.aio server did not start")
    try:
        yield f"127.0.0.1:{ready['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(ready["server"].stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass(frozen=True)
class Outcome:
    """What one call ended with."""

    code: grpc.StatusCode
    details: str | None
    trailing: tuple[tuple[str, str], ...]
    response: Any

    def trailer(self, key: str) -> str | None:
        values = [v for k, v in self.trailing if k == key]
        assert len(values) <= 1, (key, values)
        return values[0] if values else None


def _trailing(metadata: Any) -> tuple[tuple[str, str], ...]:
    return tuple((m.key, m.value) for m in metadata or ())


def call(channel: grpc.Channel, method: str, request: Any = None, *,
         metadata: list[tuple[str, str]] | None = None, kind: str = "unary_unary") -> Outcome:
    """Call ``method`` with ``request`` (a list of messages for a request stream) and return
    the exact outcome; streamed responses come back as a list."""
    stub = getattr(channel, kind)(method, request_serializer=dumps, response_deserializer=loads)
    try:
        if kind.endswith("_stream"):
            responses = stub(iter(request) if kind.startswith("stream") else request,
                             metadata=metadata, timeout=20)
            result = list(responses)
            return Outcome(responses.code(), responses.details(),
                           _trailing(responses.trailing_metadata()), result)
        response, rpc = stub.with_call(iter(request) if kind.startswith("stream") else request,
                                       metadata=metadata, timeout=20)
        return Outcome(rpc.code(), rpc.details(), _trailing(rpc.trailing_metadata()), response)
    except grpc.RpcError as error:
        return Outcome(error.code(), error.details(), _trailing(error.trailing_metadata()), None)


# -- the attack table, as gRPC answers it --------------------------------------------------

@dataclass(frozen=True)
class GrpcCase:
    """One call's metadata and the exact gRPC answer it must get."""

    name: str
    metadata: Callable[[], list[tuple[str, str]]]
    code: grpc.StatusCode
    svcauth_error: str | None
    details: str | None
    challenge: str | None


OK, UNAUTH, DENIED = (grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED,
                      grpc.StatusCode.PERMISSION_DENIED)
# The HTTP kit's rows, with the code each one's refusal carries.
CODES = {
    "valid_token": None, "lower_case_bearer": None, "no_token": "token_missing",
    "basic_scheme": "scheme_unsupported", "expired": "token_expired",
    "garbage_token": "token_malformed", "alg_none": "alg_not_allowed",
    "forged_signature": "signature_invalid", "wrong_audience": "audience_mismatch",
    "user_token": "not_service_account", "reporting_job": "unauthorized_service",
    "missing_role": "insufficient_scope", "repeated_headers": "authorization_repeated",
    "malformed_header": "authorization_malformed", "oversized_token": "token_too_large",
}
# HTTP-only rows: gRPC has no query string, and grpc clients refuse non-ASCII metadata
# values before sending (authorization_values is checked with such bytes directly).
NOT_OVER_GRPC = {"query_token_only", "header_and_query_token",
                 "header_and_percent_encoded_query_token", "latin1_bytes"}
STATUS = {200: OK, 400: UNAUTH, 401: UNAUTH, 403: DENIED}


def _metadata(case: Case) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(name.lower(), value) for name, value in case.headers()]


def _from_http(case: Case) -> GrpcCase:
    challenge = case.challenge
    if case.name == "repeated_headers":  # two metadata entries arrive as two values
        challenge = (CHALLENGE + ', error="invalid_request", error_description="Several '
                     'Authorization headers were sent"')
    return GrpcCase(case.name, _metadata(case), STATUS[case.status], CODES[case.name],
                    None if case.status == 200 else case.body["error"], challenge)


def _extra_rows() -> list[GrpcCase]:
    from integration_kit import INVALID, claims, token

    return [
        GrpcCase("wrong_issuer",
                 lambda: [("authorization", "Bearer " + token(claims(iss="https://evil.example/realms/techstore")))],
                 UNAUTH, "issuer_mismatch", "Invalid token",
                 INVALID + '"The access token was issued by another issuer"'),
        GrpcCase("bearer_without_token", lambda: [("authorization", "Bearer ")], UNAUTH,
                 "authorization_malformed", "Invalid request",
                 CHALLENGE + ', error="invalid_request", error_description="The Authorization '
                 'header is malformed"'),
        GrpcCase("not_yet_valid",
                 lambda: [("authorization", "Bearer " + token(claims(nbf=1_800_000_000 + 600)))],
                 UNAUTH, "token_not_yet_valid", "Invalid token",
                 INVALID + '"The access token is not valid yet"'),
    ]


GRPC_CASES: list[GrpcCase] = [_from_http(c) for c in CASES if c.name not in NOT_OVER_GRPC]
GRPC_CASES += _extra_rows()
assert {c.name for c in CASES} == set(CODES) | NOT_OVER_GRPC


def check(case: GrpcCase, outcome: Outcome, expected_response: Any) -> None:
    """Assert the exact answer of ``case``."""
    assert outcome.code == case.code, (case.name, outcome)
    if case.code == OK:
        assert outcome.response == expected_response, case.name
        assert outcome.trailer("svcauth-error") is None, case.name
        return
    assert outcome.response is None, case.name
    assert outcome.details == case.details, (case.name, outcome.details)
    assert outcome.trailer("svcauth-error") == case.svcauth_error, (case.name, outcome.trailing)
    assert outcome.trailer("www-authenticate") == case.challenge, (case.name, outcome.trailing)
    assert [k for k, _ in outcome.trailing if k.startswith("svcauth") or k in (
        "www-authenticate", "retry-after")] == (
        ["svcauth-error", "www-authenticate"] if case.challenge else ["svcauth-error"]), case.name


# -- the MockMart edge: shop-api reserves stock at inventory-service over gRPC ------------

INVENTORY = "mockmart.inventory.v1.Inventory"
RESERVE = f"/{INVENTORY}/Reserve"
CHECK = f"/{INVENTORY}/Check"
READ_ROLE = "inventory-service:inventory:read"
RESERVE_ROLE = "inventory-service:inventory:reserve"


def inventory_guards(verifier: Any, realm: str = "techstore") -> MethodGuards:
    """Reserve needs inventory:reserve, Check inventory:read; both callers must be shop-api."""
    from svcauth.receiver import ServicePolicy

    return MethodGuards({
        RESERVE: ServicePolicy(allowed_clients=("shop-api",), required_roles={RESERVE_ROLE}),
        CHECK: ServicePolicy(allowed_clients=("shop-api",), required_roles={READ_ROLE}),
    }, verifier=verifier, realm=realm)


class Stock:
    """A tiny stock book shared by the sync and aio inventory handlers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.levels = {"sku-1": 5}
        self.reservations: list[tuple[str, str, int]] = []

    def check(self, request: Any) -> Any:
        with self.lock:
            return {"sku": request["sku"], "available": self.levels.get(request["sku"], 0)}

    def reserve(self, request: Any) -> Any:
        caller = current_identity().client_id
        with self.lock:
            left = self.levels.get(request["sku"], 0) - request["quantity"]
            if left < 0:
                return {"reserved": False, "available": left + request["quantity"]}
            self.levels[request["sku"]] = left
            self.reservations.append((caller, request["sku"], request["quantity"]))
            return {"reserved": True, "by": caller, "available": left}


def inventory_handlers(stock: Stock, *, aio: bool = False) -> tuple[grpc.GenericRpcHandler, ...]:
    kw = {"request_deserializer": loads, "response_serializer": dumps}
    if aio:
        async def check_(request: Any, context: Any) -> Any:
            return stock.check(request)

        async def reserve_(request: Any, context: Any) -> Any:
            return stock.reserve(request)
        methods = {"Check": check_, "Reserve": reserve_}
    else:
        methods = {"Check": lambda request, context: stock.check(request),
                   "Reserve": lambda request, context: stock.reserve(request)}
    return (grpc.method_handlers_generic_handler(INVENTORY, {
        name: grpc.unary_unary_rpc_method_handler(fn, **kw) for name, fn in methods.items()}),)


STREAM_OK_SEND = {"client_id": "shop-api"}
STREAM_OK_WATCH = [{"client_id": "shop-api", "i": 0}, {"client_id": "shop-api", "i": 1}]
