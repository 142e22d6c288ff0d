"""gRPC: the interceptors over real servers on 127.0.0.1 (sync ``grpc.server`` and
``grpc.aio.server``), every attack row with its exact status, details and trailing
metadata; streaming kinds, per-method tables, the identity in handlers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_kit import (
    CHAT,
    CLIENT_OPTIONS,
    DENIED,
    GRPC_CASES,
    HEALTH,
    OK,
    PURGE,
    SEND,
    UNAUTH,
    UPLOAD,
    WATCH,
    GrpcCase,
    aio_notifications,
    aio_server,
    call,
    check,
    notification_guards,
    sync_notifications,
    sync_server,
)
from integration_kit import REALM, secrets_in, token, unavailable_guard

from svcauth.grpc import AsyncServiceAuthInterceptor, MethodGuards, ServiceAuthInterceptor

SERVERS = ["sync", "aio"]


@pytest.fixture(scope="module", params=SERVERS)
def target(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real server of each kind with the kit's notification guards."""
    if request.param == "sync":
        with sync_server(sync_notifications(),
                         [ServiceAuthInterceptor(notification_guards())]) as address:
            yield address
    else:
        with aio_server(aio_notifications,
                        lambda: [AsyncServiceAuthInterceptor(notification_guards())]) as address:
            yield address


@pytest.fixture
def channel(target: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(target, options=CLIENT_OPTIONS) as ch:
        yield ch


def _bearer() -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token()}")]


@pytest.mark.parametrize("case", GRPC_CASES, ids=[c.name for c in GRPC_CASES])
def test_unary_call_answers_exactly(channel: grpc.Channel, case: GrpcCase) -> None:
    outcome = call(channel, SEND, {"to": "alice"}, metadata=case.metadata())
    check(case, outcome, {"client_id": "shop-api"})


STREAM_ROWS = [c for c in GRPC_CASES if c.name in
               ("valid_token", "no_token", "expired", "reporting_job", "missing_role")]


@pytest.mark.parametrize("case", STREAM_ROWS, ids=[c.name for c in STREAM_ROWS])
@pytest.mark.parametrize(("method", "kind", "request_", "response"), [
    (WATCH, "unary_stream", {"n": 2},
     [{"client_id": "shop-api", "i": 0}, {"client_id": "shop-api", "i": 1}]),
    (UPLOAD, "stream_unary", [{"a": 1}, {"a": 2}, {"a": 3}], {"client_id": "shop-api", "count": 3}),
    (CHAT, "stream_stream", [{"a": 1}, {"a": 2}],
     [{"client_id": "shop-api", "echo": {"a": 1}}, {"client_id": "shop-api", "echo": {"a": 2}}]),
], ids=["unary_stream", "stream_unary", "stream_stream"])
def test_streaming_calls_answer_exactly(channel: grpc.Channel, case: GrpcCase, method: str,
                                        kind: str, request_: Any, response: Any) -> None:
    outcome = call(channel, method, request_, metadata=case.metadata(), kind=kind)
    # A refused stream raises at its first message: no response at all.
    check(case, outcome, response)


def test_unlisted_method_is_refused_before_its_token_is_read(channel: grpc.Channel) -> None:
    for metadata in ([], _bearer()):
        outcome = call(channel, PURGE, {}, metadata=metadata)
        assert (outcome.code, outcome.details, outcome.trailing) == (
            DENIED, "Forbidden", (("svcauth-error", "method_not_configured"),))


def test_public_method_needs_no_token_and_sees_no_identity(channel: grpc.Channel) -> None:
    for metadata in ([], [("authorization", "Bearer garbage")]):
        outcome = call(channel, HEALTH, {}, metadata=metadata)
        assert (outcome.code, outcome.response) == (OK, {"status": "SERVING", "identity": "none"})


def test_unknown_method_stays_unimplemented(channel: grpc.Channel) -> None:
    outcome = call(channel, "/mockmart.v1.Notifications/Nope", {}, metadata=_bearer())
    assert outcome.code == grpc.StatusCode.UNIMPLEMENTED
    assert outcome.trailer("svcauth-error") is None


def test_refusals_never_carry_the_token(channel: grpc.Channel,
                                        caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for case in GRPC_CASES:
            outcome = call(channel, SEND, {}, metadata=case.metadata())
            seen.append(repr(outcome))
    assert secrets_in(caplog.text) == []
    assert secrets_in("\n".join(seen)) == []


@pytest.mark.parametrize("kind", SERVERS)
def test_unavailable_key_set_is_unavailable_with_retry_after(kind: str) -> None:
    guards = MethodGuards({f"/{SEND.split('/')[1]}/": unavailable_guard()}, realm=REALM)
    if kind == "sync":
        server = sync_server(sync_notifications(), [ServiceAuthInterceptor(guards)])
    else:
        server = aio_server(aio_notifications, lambda: [AsyncServiceAuthInterceptor(guards)])
    with server as address, grpc.insecure_channel(address) as ch:
        outcome = call(ch, SEND, {}, metadata=_bearer())
    assert (outcome.code, outcome.details, outcome.trailing) == (
        grpc.StatusCode.UNAVAILABLE, "Authentication temporarily unavailable",
        (("svcauth-error", "jwks_unavailable"), ("retry-after", "30")))


def test_refusal_statuses_are_the_two_auth_codes() -> None:
    assert {c.code for c in GRPC_CASES} == {OK, UNAUTH, DENIED}


def test_aio_server_runs_sync_handlers_in_a_thread_with_the_identity() -> None:
    """grpc.aio with plain (sync) handlers: the wrapper awaits the guard on the loop and
    runs the handler in a thread that sees the identity."""
    from grpc_kit import STREAM_OK_SEND, STREAM_OK_WATCH

    with aio_server(sync_notifications,
                    lambda: [AsyncServiceAuthInterceptor(notification_guards())]) as address, \
            grpc.insecure_channel(address) as ch:
        send = call(ch, SEND, {}, metadata=_bearer())
        watch = call(ch, WATCH, {"n": 2}, metadata=_bearer(), kind="unary_stream")
        refused = call(ch, WATCH, {"n": 2}, metadata=[], kind="unary_stream")
    assert (send.code, send.response) == (OK, STREAM_OK_SEND)
    assert (watch.code, watch.response) == (OK, STREAM_OK_WATCH)
    assert (refused.code, refused.trailer("svcauth-error")) == (UNAUTH, "token_missing")


def test_identity_never_outlives_its_call(channel: grpc.Channel) -> None:
    """Authenticated calls, then public ones on the same worker threads / loop: none of the
    public calls sees an identity."""
    for _ in range(8):
        assert call(channel, SEND, {}, metadata=_bearer()).code == OK
        assert call(channel, WATCH, {"n": 1}, metadata=_bearer(), kind="unary_stream").code == OK
    outcomes = [call(channel, HEALTH, {}) for _ in range(8)]
    assert [o.response for o in outcomes] == [{"status": "SERVING", "identity": "none"}] * 8
