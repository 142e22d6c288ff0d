"""Caller telemetry: a fetch is one span with its attributes, a cache hit is no span but a
count, a refresh ahead is a span of its own, failures carry their stable code."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import pytest
from opentelemetry import trace
from telemetry_support import Clock, Otel, TokenEndpoint, caching_source

from svcauth import telemetry
from svcauth._errors import TokenEndpointError
from svcauth.caller import TokenExchanger


def test_first_token_is_one_fetch_span_and_hits_are_counted_without_spans(otel: Otel) -> None:
    clock = Clock(1000.0)
    source = caching_source(TokenEndpoint(), clock)
    client_id = source._source.config.client_id  # type: ignore[attr-defined]
    first = source.token()
    for _ in range(5):
        assert source.token() == first
    [span] = otel.spans("svcauth.token.fetch")
    assert dict(span.attributes or {}) == {
        "svcauth.client_id": client_id, "server.address": "idp.telemetry.test",
        "server.port": 8080, "svcauth.cache.outcome": "miss", "svcauth.fetch.attempts": 1,
        "http.response.status_code": 200}
    assert span.kind == trace.SpanKind.CLIENT
    assert span.status.status_code == trace.StatusCode.UNSET
    assert otel.value("svcauth.client.token.requests", **{
        "svcauth.client_id": client_id, "svcauth.outcome": "hit"}) == 5
    assert otel.value("svcauth.client.token.requests", **{
        "svcauth.client_id": client_id, "svcauth.outcome": "miss"}) == 1
    assert otel.value("svcauth.client.token.fetch.duration", **{
        "svcauth.client_id": client_id, "svcauth.outcome": "ok"}) == 1
    assert otel.value("svcauth.client.token.remaining_lifetime",
                      **{"svcauth.client_id": client_id}) == 300.0


def test_retried_fetch_counts_its_attempts_and_last_status(otel: Otel) -> None:
    source = caching_source(TokenEndpoint(503, 503), Clock(1000.0))
    source.token()
    [span] = otel.spans("svcauth.token.fetch")
    assert span.attributes["svcauth.fetch.attempts"] == 3  # type: ignore[index]
    assert span.attributes["http.response.status_code"] == 200  # type: ignore[index]


def test_permanent_failure_is_an_error_span_with_the_code_and_a_failure_count(otel: Otel) -> None:
    source = caching_source(TokenEndpoint(401), Clock(1000.0))
    client_id = source._source.config.client_id  # type: ignore[attr-defined]
    with pytest.raises(TokenEndpointError) as info:
        source.token()
    assert info.value.code == "invalid_client"
    [span] = otel.spans("svcauth.token.fetch")
    assert span.attributes["error.type"] == "invalid_client"  # type: ignore[index]
    assert span.attributes["http.response.status_code"] == 401  # type: ignore[index]
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.status.description == "invalid_client"
    assert otel.value("svcauth.client.token.fetch.duration", **{
        "svcauth.client_id": client_id, "svcauth.outcome": "invalid_client"}) == 1
    assert otel.value("svcauth.client.token.requests", **{
        "svcauth.client_id": client_id, "svcauth.outcome": "failure"}) == 1


def test_refresh_ahead_is_its_own_span_in_the_callers_trace(otel: Otel) -> None:
    clock = Clock(1000.0)
    endpoint = TokenEndpoint()
    source = caching_source(endpoint, clock)
    client_id = source._source.config.client_id  # type: ignore[attr-defined]
    first = source.token()
    clock.advance(256)  # past the refresh window (240..255 s), still served (until 261 s)
    tracer = otel.provider.get_tracer("test")
    done = threading.Event()
    with tracer.start_as_current_span("caller") as caller:
        assert source.token() == first  # served at once; the refresh runs in the background
    for _ in range(500):
        if len(otel.spans("svcauth.token.fetch")) == 2:
            done.set()
            break
        done.wait(0.01)
    assert done.is_set(), "the background refresh never finished"
    refresh = otel.spans("svcauth.token.fetch")[1]
    assert refresh.attributes["svcauth.cache.outcome"] == "refresh_ahead"  # type: ignore[index]
    assert refresh.parent is not None
    assert refresh.parent.span_id == caller.get_span_context().span_id
    assert refresh.context.trace_id == caller.get_span_context().trace_id
    assert otel.value("svcauth.client.token.requests", **{
        "svcauth.client_id": client_id, "svcauth.outcome": "refresh_ahead"}) == 1
    assert len(endpoint.issued) == 2


@pytest.mark.anyio
async def test_async_fetch_span_is_a_child_of_the_awaiting_span(otel: Otel) -> None:
    source = caching_source(TokenEndpoint(), Clock(1000.0))
    tracer = otel.provider.get_tracer("test")
    with tracer.start_as_current_span("deliver") as parent:
        await source.atoken()
        await source.atoken()
    [span] = otel.spans("svcauth.token.fetch")
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id


def test_with_telemetry_off_nothing_is_recorded_and_hits_are_not_counted(otel: Otel) -> None:
    telemetry.set_enabled(False)
    source = caching_source(TokenEndpoint(), Clock(1000.0))
    client_id = source._source.config.client_id  # type: ignore[attr-defined]
    source.token()
    source.token()
    assert otel.spans() == []
    assert "token" not in vars(source)  # the uninstrumented hot path
    assert otel.value("svcauth.client.token.requests", **{
        "svcauth.client_id": client_id, "svcauth.outcome": "hit"}) == 0


def _user_token() -> str:
    """A user-token-shaped subject whose exp is an hour past the sources' wall clock."""
    body = base64.urlsafe_b64encode(json.dumps(
        {"sub": "alice", "azp": "storefront", "exp": 1_700_003_600}).encode()).rstrip(b"=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body.decode()}.sig"


@pytest.mark.parametrize("enabled", [True, False], ids=["on", "off"])
def test_exchange_hits_are_counted_only_with_telemetry_on(otel: Otel, enabled: bool) -> None:
    telemetry.set_enabled(enabled)  # read when the exchanger is built, as by CachingTokenSource
    endpoint = TokenEndpoint()
    client = caching_source(endpoint, Clock(1000.0))._source  # type: ignore[attr-defined]
    exchanger = TokenExchanger(client)
    subject = _user_token()
    first = exchanger.exchange(subject, audience="payment-service")
    for _ in range(3):
        assert exchanger.exchange(subject, audience="payment-service") == first

    async def twice() -> list[str]:
        return [await exchanger.aexchange(subject, audience="payment-service") for _ in range(2)]

    assert asyncio.run(twice()) == [first, first]
    assert endpoint.issued == [first]  # one exchange, five hits
    assert otel.value("svcauth.client.token.requests", **{
        "svcauth.client_id": client.config.client_id,
        "svcauth.outcome": "hit"}) == (5 if enabled else 0)
