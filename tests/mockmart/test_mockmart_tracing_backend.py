"""The seed's trace in a real tracing UI: a MockMart checkout found in Zipkin by its trace id,
holding shop-api's token POST, the notification call, notification-service's JWKS GET and the
identity provider's own spans (the embedded provider's, and Keycloak's own over OTLP)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockmart.system.otlp_relay import OtlpRelay
from mockmart.system.stack import Stack, StackOptions
from mockmart.system.zipkin import ZipkinServer
from mockmart.topology import EXCHANGE
from service_support import unavailable
from svcauth import telemetry

# Zipkin's first start (up to 180 s), a stack, mail and trace waits: minutes when loaded.
pytestmark = [pytest.mark.tracing_backend, pytest.mark.timeout(900)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _poll(fetch: Callable[[], list[dict[str, Any]]], check: Callable[[list[dict[str, Any]]], None],
          timeout: float = 90.0) -> list[dict[str, Any]]:
    """Fetch until ``check`` passes (spans arrive in batches, from several processes, seconds
    apart); past ``timeout`` its last AssertionError stands."""
    end = time.monotonic() + timeout
    while True:
        spans = fetch()
        try:
            check(spans)
            return spans
        # ValueError: a `[one] = spans` not there yet; a transport error: Zipkin's JVM slow
        # to answer one query (GC, JIT) on a loaded machine.
        except (AssertionError, ValueError, httpx.TransportError):
            if time.monotonic() > end:
                raise
        time.sleep(0.5)


def _services(spans: list[dict[str, Any]]) -> set[str]:
    return {s.get("localEndpoint", {}).get("serviceName", "") for s in spans}


def _named(spans: list[dict[str, Any]], service: str, contains: str) -> list[dict[str, Any]]:
    """The spans of ``service`` whose name holds ``contains`` (Zipkin lower-cases names)."""
    return [s for s in spans if s.get("localEndpoint", {}).get("serviceName") == service
            and contains.lower() in s.get("name", "")]


@pytest.fixture
def devidp_tracing(otlp_relay: OtlpRelay) -> Iterator[None]:
    """The embedded provider runs in this process: give svcauth a provider named ``devidp``
    that exports to the relay, for this test only."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "devidp"}))
    provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=f"{otlp_relay.endpoint}/v1/traces")))
    telemetry.configure(tracer_provider=provider)
    try:
        yield
    finally:
        telemetry.configure()
        provider.shutdown()


def _checkout(stack: Stack, trace_id: str) -> None:
    """alice checks out inside a trace we name, and the order e-mail arrives."""
    user = stack.user_token()
    parent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    response = httpx.post(f"{stack.shop.url}/api/checkout", json={}, timeout=30,
                          headers={"Authorization": f"Bearer {user}", "traceparent": parent})
    assert response.status_code in (200, 201, 202), response.text
    end = time.monotonic() + 60
    while stack.mailbox().delivered < 1:
        assert time.monotonic() < end, "the order e-mail never arrived"
        time.sleep(0.2)


def _stack(tmp_path: Path, relay: OtlpRelay, idp: Any = None, *, broker: bool = False) -> Stack:
    stack = Stack(StackOptions(run_dir=tmp_path / "run", retry_max_delay=1.0,
                               otlp_endpoint=relay.endpoint, broker=broker))
    if idp is not None:
        stack.idp = idp
    return stack


def _under(spans: list[dict[str, Any]], span: dict[str, Any], ancestor: dict[str, Any]) -> bool:
    """Whether ``ancestor`` is on ``span``'s way to the root."""
    by_id = {s["id"]: s for s in spans}
    while (parent := by_id.get(span.get("parentId", ""))) is not None:
        if parent["id"] == ancestor["id"]:
            return True
        span = parent
    return False


def _assert_seed_trace(spans: list[dict[str, Any]], idp_service: str) -> None:
    assert {"shop-api", "notification-service", idp_service} <= _services(spans), _services(spans)
    assert _named(spans, "shop-api", "POST /api/checkout")
    [fetch] = _named(spans, "shop-api", "svcauth.token.fetch")
    assert fetch["tags"]["svcauth.client_id"] == "shop-api"
    assert fetch["tags"]["http.response.status_code"] == "200"
    assert _named(spans, "notification-service", "POST /api/notifications/order")
    [jwks] = _named(spans, "notification-service", "svcauth.jwks.fetch")
    assert jwks["kind"] == "CLIENT"
    assert jwks["tags"]["svcauth.outcome"] == "ok"
    [verify] = _named(spans, "notification-service", "svcauth.verify")
    assert verify["tags"]["svcauth.outcome"] == "valid"
    # The provider's own token endpoint span sits under shop-api's token fetch.
    token_spans = [s for s in _named(spans, idp_service, "/protocol/{protocol}/token")
                   if s.get("kind") == "SERVER"]
    assert token_spans, sorted({s["name"] for s in spans if s.get("kind") == "SERVER"})
    assert any(_under(spans, t, fetch) for t in token_spans)
    # notification-service's JWKS GET is answered by the provider inside the same trace
    # (shop-api fetched the keys too, to verify alice's token at checkout).
    certs = [s for s in _named(spans, idp_service, "/protocol/{protocol}/certs")
             if s.get("kind") == "SERVER"]
    assert any(_under(spans, c, jwks) for c in certs)


@pytest.mark.browser
def test_a_checkout_on_the_embedded_provider_is_one_trace_in_zipkin(
        zipkin: ZipkinServer, otlp_relay: OtlpRelay, devidp_tracing: None, tmp_path: Path) -> None:
    trace_id = secrets.token_hex(16)
    with _stack(tmp_path, otlp_relay) as stack:
        _checkout(stack, trace_id)
        spans = _poll(lambda: zipkin.trace(trace_id), lambda s: _assert_seed_trace(s, "devidp"))
    # Named as Keycloak 26.7.3 names its endpoints' spans: its route templates.
    assert {s["name"] for s in _named(spans, "devidp", "/realms/")} == {
        "get /realms/{realm}/protocol/{protocol}/certs",
        "post /realms/{realm}/protocol/{protocol}/token"}
    _screenshot(zipkin, trace_id, "zipkin-trace-devidp.png")


@pytest.mark.keycloak
@pytest.mark.browser
def test_a_checkout_on_keycloak_carries_keycloaks_own_token_span(
        zipkin: ZipkinServer, otlp_relay: OtlpRelay, mockmart_keycloak: Any,
        tmp_path: Path) -> None:
    trace_id = secrets.token_hex(16)
    with _stack(tmp_path, otlp_relay, mockmart_keycloak) as stack:
        _checkout(stack, trace_id)
        _poll(lambda: zipkin.trace(trace_id), lambda s: _assert_seed_trace(s, "keycloak"))
    _screenshot(zipkin, trace_id, "zipkin-trace-keycloak.png")


def test_a_refused_call_carries_its_code_and_never_the_token(
        zipkin: ZipkinServer, otlp_relay: OtlpRelay, devidp_tracing: None, tmp_path: Path) -> None:
    trace_id = secrets.token_hex(16)
    with _stack(tmp_path, otlp_relay) as stack:
        good = stack.service_token("shop-api")
        head, payload, signature = good.split(".")
        flipped = "B" if signature[10] == "A" else "A"  # a full 6-bit character: still canonical
        forged = f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}"
        assert stack.notification is not None
        response = httpx.post(
            f"{stack.notification.url}/api/notifications/order", timeout=30,
            json={"orderId": "o-refused", "userEmail": "a@example.com"},
            headers={"Authorization": f"Bearer {forged}",
                     "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
        assert response.status_code == 401
        spans = _poll(lambda: zipkin.trace(trace_id), _assert_refusal_traced)
    [verify] = _named(spans, "notification-service", "svcauth.verify")
    assert verify["tags"]["error.type"] == "signature_invalid"
    text = str(spans)
    assert forged not in text and good not in text and signature not in text and payload not in text


@pytest.mark.broker
def test_a_product_checkout_holds_every_service_the_broker_and_the_provider(
        zipkin: ZipkinServer, otlp_relay: OtlpRelay, devidp_tracing: None, tmp_path: Path) -> None:
    """mario's product checkout is one trace: inventory's check and reservation, payment's
    charge (with its DPoP-bound exchanged token: the bound token's verification and the
    proof check are spans of their own), shop-api's token requests answered by the
    provider's token endpoint, and the order event through RabbitMQ: the worker's consumer
    span and notification-service's request under it."""
    from mockmart.system.broker_node import BrokerNode

    if not BrokerNode.available():
        unavailable("RabbitMQ", "rabbitmq-server is not installed")
    trace_id = secrets.token_hex(16)
    with _stack(tmp_path, otlp_relay, broker=True) as stack:
        mario = stack.user_token("mario", "MARIO_PASSWORD")
        response = httpx.post(
            f"{stack.shop.url}/api/checkout", timeout=30,
            json={"items": [{"productId": 1, "quantity": 1}]},
            headers={"Authorization": f"Bearer {mario}",
                     "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
        assert response.status_code == 201, response.text
        spans = _poll(lambda: zipkin.trace(trace_id), _assert_fan_out_traced)
    assert mario not in str(spans)


def _assert_fan_out_traced(spans: list[dict[str, Any]]) -> None:
    """The whole product-checkout trace. It is also the poll's check: each process exports
    its spans in batches of its own, so shop-api's outbox PRODUCER span can reach Zipkin
    after the worker's CONSUMER span under it; only the whole picture ends the wait."""
    assert {"shop-api", "inventory-service", "payment-service", "order-events-worker",
            "notification-service", "devidp"} <= _services(spans), _services(spans)
    [checkout] = _named(spans, "shop-api", "POST /api/checkout")
    for service, route, status in (
            ("inventory-service", "POST /api/inventory/check", "200"),
            ("inventory-service", "POST /api/inventory/reservations", "201"),
            ("payment-service", "POST /api/payments", "201")):
        [server] = [s for s in _named(spans, service, route) if s.get("kind") == "SERVER"]
        assert server["tags"]["http.response.status_code"] == status, (service, route)
        assert _under(spans, server, checkout), (service, route)
    [charge] = [s for s in _named(spans, "payment-service", "POST /api/payments")
                if s.get("kind") == "SERVER"]
    [verify] = _named(spans, "payment-service", "svcauth.verify")
    assert {k: verify["tags"].get(k) for k in ("svcauth.scheme", "svcauth.outcome",
                                              "svcauth.caller")} == {
        "svcauth.scheme": "DPoP", "svcauth.outcome": "valid", "svcauth.caller": "shop-api"}
    [proof] = _named(spans, "payment-service", "svcauth.dpop.proof")
    assert proof["tags"]["svcauth.outcome"] == "valid"
    assert _under(spans, verify, charge) and _under(spans, proof, charge)
    # shop-api's two token requests: its client-credentials token and the exchange.
    fetches = _named(spans, "shop-api", "svcauth.token.fetch")
    assert [f["tags"]["http.response.status_code"] for f in fetches] == ["200", "200"]
    assert all(_under(spans, f, checkout) for f in fetches)
    token_spans = [s for s in _named(spans, "devidp", "/protocol/{protocol}/token")
                   if s.get("kind") == "SERVER"]
    assert sum(any(_under(spans, t, f) for t in token_spans) for f in fetches) == 2
    # The order event: the outbox, RabbitMQ, the worker, notification-service.
    [publish] = _named(spans, "shop-api", f"{EXCHANGE} publish")
    assert publish["kind"] == "PRODUCER" and _under(spans, publish, checkout)
    assert publish["tags"]["messaging.system"] == "rabbitmq"
    [consume] = _named(spans, "order-events-worker", "order-events-worker process")
    assert consume["kind"] == "CONSUMER" and _under(spans, consume, publish)
    [notify] = [s for s in _named(spans, "notification-service", "POST /api/notifications/order")
                if s.get("kind") == "SERVER"]
    assert notify["tags"]["http.response.status_code"] == "202", notify["tags"]
    assert _under(spans, notify, consume)


def _assert_refusal_traced(spans: list[dict[str, Any]]) -> None:
    [verify] = _named(spans, "notification-service", "svcauth.verify")
    assert verify["tags"]["svcauth.outcome"] == "invalid"
    [server] = _named(spans, "notification-service", "POST /api/notifications/order")
    assert server["tags"]["http.response.status_code"] == "401"


def _screenshot(zipkin: ZipkinServer, trace_id: str, name: str) -> None:
    """The trace page in headless Chromium, saved under var/screenshots/ and checked to show
    the trace's services."""
    from browser_support import chromium_page

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        page.goto(zipkin.trace_ui_url(trace_id), wait_until="networkidle")
        # The header names the trace and its root service (the span list is virtualised:
        # rows far down, such as Keycloak's internal spans, are not in the page at all).
        page.wait_for_selector(f"text={trace_id}", timeout=60_000)
        page.wait_for_selector("text=shop-api: post /api/checkout", timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    assert (SCREENSHOTS / name).stat().st_size > 10_000
