"""gRPC's pure parts: the per-method table (keys, precedence, the secure default and its
loud escape hatches), the refusal mapping for every error class, metadata reading, and the
public face of ``svcauth.grpc``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from integration_kit import REALM, make_guard

import svcauth.grpc as sgrpc
from svcauth import (
    ConfigurationError,
    ForbiddenError,
    InvalidRequestError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingTokenError,
)
from svcauth.grpc import (
    MethodGuards,
    ServiceAuthInterceptor,
    authorization_values,
    current_identity,
    grpc_refusal_for,
)
from svcauth.receiver import ServicePolicy

SVC = "/inventory.v1.Inventory/"


def test_public_names_are_sorted_and_documented() -> None:
    assert sgrpc.__all__ == sorted(sgrpc.__all__)
    assert set(sgrpc.__all__) == {
        "AsyncServiceAuthInterceptor", "AsyncTokenCallCredentials", "GrpcRefusal",
        "MethodGuards", "ServiceAuthInterceptor", "TokenCallCredentials",
        "authorization_values", "call_credentials", "call_metadata", "channel_credentials",
        "current_identity", "grpc_refusal_for", "local_channel_credentials"}
    for name in sgrpc.__all__:
        assert (getattr(sgrpc, name).__doc__ or "").strip(), name


def test_exact_method_wins_over_its_service() -> None:
    service, exact = make_guard(), make_guard()
    guards = MethodGuards({SVC: service, SVC + "Reserve": exact}, realm=REALM)
    assert guards.guard_for(SVC + "Reserve") is exact
    assert guards.guard_for(SVC + "Check") is service


def test_policies_are_paired_with_the_verifier_and_realm() -> None:
    verifier = make_guard().verifier
    policy = ServicePolicy(required_roles={"inventory-service:inventory:read"})
    guard = MethodGuards({SVC + "Check": policy}, verifier=verifier, realm="techstore").guard_for(
        SVC + "Check")
    assert guard is not None
    assert (guard.verifier, guard.policy, guard.realm) == (verifier, policy, "techstore")


@pytest.mark.parametrize("method", [
    "/inventory.v1.Inventory/Purge", "/other.v1.Svc/Reserve", "/inventory.v1.Inventory",
    "Reserve", "", "/inventory.v1.Inventory/Reserve/x", "/inventory.v1.inventory/Reserve",
])
def test_unlisted_methods_are_refused_by_default(method: str) -> None:
    guards = MethodGuards({"/inventory.v1.Inventory/Reserve": make_guard()}, realm=REALM)
    with pytest.raises(ForbiddenError) as info:
        guards.guard_for(method)
    assert info.value.code == "method_not_configured"


def test_public_methods_and_the_unlisted_opt_out_are_logged_loudly(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="svcauth.grpc"):
        guards = MethodGuards({SVC: make_guard()}, public=("/grpc.health.v1.Health/Check",))
        assert guards.guard_for("/grpc.health.v1.Health/Check") is None
        with pytest.raises(ForbiddenError):
            guards.guard_for("/grpc.health.v1.Health/Watch")
        open_guards = MethodGuards({}, allow_unlisted_without_auth=True)
        assert open_guards.guard_for("/any.Svc/Thing") is None
    assert [r.getMessage() for r in caplog.records] == [
        "svcauth.grpc: /grpc.health.v1.Health/Check is served WITHOUT authentication (public)",
        "svcauth.grpc: allow_unlisted_without_auth=True: every method not listed is served "
        "WITHOUT authentication",
    ]


BAD_TABLES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("no leading slash", {"inventory.v1.Inventory/Reserve": "g"}, {}, "grpc method key"),
    ("no method part", {"/inventory.v1.Inventory": "g"}, {}, "grpc method key"),
    ("two slashes in the method", {"/a.B/c/d": "g"}, {}, "grpc method key"),
    ("empty service", {"//Reserve": "g"}, {}, "grpc method key"),
    ("policy without verifier", {SVC: ServicePolicy()}, {}, "needs MethodGuards(verifier=...)"),
    ("not a guard nor a policy", {SVC: object()}, {}, "expected a Guard or a policy"),
    ("empty table", {}, {}, "found none"),
    ("public service prefix", {SVC + "A": "g"}, {"public": (SVC,)}, "the whole service"),
    ("guarded and public", {SVC + "A": "g"}, {"public": (SVC + "A",)}, "both with a guard"),
]


@pytest.mark.parametrize(("routes", "options", "message"), [r[1:] for r in BAD_TABLES],
                         ids=[r[0] for r in BAD_TABLES])
def test_tables_that_cannot_be_meant_do_not_construct(routes: dict[str, Any],
                                                      options: dict[str, Any], message: str) -> None:
    routes = {k: make_guard() if v == "g" else v for k, v in routes.items()}
    with pytest.raises(ConfigurationError) as info:
        MethodGuards(routes, **options)
    assert message in str(info.value)


CHALLENGE = 'Bearer realm="techstore"'
REFUSALS: list[tuple[str, Exception, str, str, tuple[tuple[str, str], ...]]] = [
    ("missing", MissingTokenError("x"), "UNAUTHENTICATED", "No token provided",
     (("svcauth-error", "token_missing"), ("www-authenticate", CHALLENGE))),
    ("malformed", InvalidRequestError("x", code="authorization_malformed"), "UNAUTHENTICATED",
     "Invalid request", (("svcauth-error", "authorization_malformed"), (
         "www-authenticate", CHALLENGE + ', error="invalid_request", error_description="The '
         'Authorization header is malformed"'))),
    ("expired", InvalidTokenError("x", code="token_expired"), "UNAUTHENTICATED", "Token expired",
     (("svcauth-error", "token_expired"), ("www-authenticate", CHALLENGE + ', error="invalid_token"'
                                           ', error_description="The access token expired"'))),
    ("unauthorized service", ForbiddenError("x", code="unauthorized_service"),
     "PERMISSION_DENIED", "Unauthorized service", (("svcauth-error", "unauthorized_service"),)),
    ("insufficient scope", ForbiddenError("x", code="insufficient_scope", required=("a:b",)),
     "PERMISSION_DENIED", "Insufficient scope", (("svcauth-error", "insufficient_scope"), (
         "www-authenticate", CHALLENGE + ', error="insufficient_scope", error_description="The '
         'access token lacks a required role or scope", scope="a:b"'))),
    ("unlisted method", ForbiddenError("x", code="method_not_configured"), "PERMISSION_DENIED",
     "Forbidden", (("svcauth-error", "method_not_configured"),)),
    ("key set down", KeySetUnavailableError("x"), "UNAVAILABLE",
     "Authentication temporarily unavailable",
     (("svcauth-error", "jwks_unavailable"), ("retry-after", "30"))),
]


@pytest.mark.parametrize(("error", "status", "details", "trailing"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refusal_mapping(error: Any, status: str, details: str,
                         trailing: tuple[tuple[str, str], ...]) -> None:
    refusal = grpc_refusal_for(error, realm="techstore")
    assert (refusal.status, refusal.details, refusal.trailing_metadata, refusal.code) == (
        status, details, trailing, error.code)


def test_authorization_values_keep_every_entry_and_decode_bytes_as_latin1() -> None:
    metadata = [("user-agent", "x"), ("authorization", "Bearer a"),
                ("authorization", b"Bearer caf\xe9"), ("authorization-bin", b"\x00")]
    assert authorization_values(metadata) == ["Bearer a", "Bearer caf\u00e9"]
    assert authorization_values(None) == []
    guard = make_guard()
    with pytest.raises(InvalidRequestError) as info:
        guard.authenticate(authorization_values([("authorization", b"Bearer caf\xe9")]))
    assert info.value.code == "authorization_malformed"


def test_no_identity_outside_an_authenticated_call() -> None:
    with pytest.raises(LookupError):
        current_identity()


def test_interceptor_needs_a_method_table() -> None:
    with pytest.raises(TypeError):
        ServiceAuthInterceptor(make_guard())  # type: ignore[arg-type]


def test_wrapped_handlers_are_reused_per_method_and_bounded() -> None:
    import grpc

    from svcauth.grpc import _server

    interceptor = ServiceAuthInterceptor(MethodGuards({SVC: make_guard()}, realm=REALM))

    class Details:
        def __init__(self, method: str) -> None:
            self.method, self.invocation_metadata = method, ()

    first = grpc.unary_unary_rpc_method_handler(lambda r, c: r)
    a = interceptor.intercept_service(lambda d: first, Details(SVC + "A"))
    assert interceptor.intercept_service(lambda d: first, Details(SVC + "A")) is a
    second = grpc.unary_unary_rpc_method_handler(lambda r, c: r)  # a new handler: wrapped anew
    b = interceptor.intercept_service(lambda d: second, Details(SVC + "A"))
    assert b is not a and b.unary_unary is not second.unary_unary
    for i in range(_server._CACHE_LIMIT + 10):
        interceptor.intercept_service(lambda d: first, Details(f"{SVC}M{i}"))
    assert len(interceptor._wrapped._entries) == _server._CACHE_LIMIT
