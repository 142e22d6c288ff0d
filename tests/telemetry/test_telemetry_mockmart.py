"""MockMart traced end to end: the outbox keeps the checkout's trace context and the
dispatcher continues it; the trace tree is drawn from span files; ``mockmart demo`` prints
the first checkout's trace across shop-api, Keycloak's endpoints and notification-service."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from telemetry_support import Otel

from mockmart.storage import OutboxEvent, open_store
from mockmart.system.trace_tree import checkout_trace, load_spans, render_tree
from mockmart.tracing import JsonLinesSpanExporter, current_context_headers
from mockmart.workers.outbox_dispatcher import Dispatcher


@pytest.mark.anyio
async def test_delivery_continues_the_checkout_trace_stored_in_the_outbox(
        otel: Otel, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    tracer = otel.provider.get_tracer("test")
    with tracer.start_as_current_span("POST /api/checkout") as checkout:
        store.create_order("alice-sub", "alice@example.com", current_context_headers())
    seen: list[Any] = []

    async def deliver(event: OutboxEvent) -> None:
        seen.append((event.trace_context, trace.get_current_span().get_span_context()))

    assert await Dispatcher(store, deliver, worker="w1").run_once() == 1
    [(stored, current)] = seen
    assert stored is not None and set(stored) == {"traceparent"}
    assert stored["traceparent"].split("-")[1] == format(checkout.get_span_context().trace_id, "032x")
    [span] = otel.spans("dispatcher deliver order.completed")
    assert span.kind == trace.SpanKind.CONSUMER
    assert span.context.trace_id == checkout.get_span_context().trace_id
    assert span.parent is not None and span.parent.span_id == checkout.get_span_context().span_id
    assert current.span_id == span.context.span_id  # the delivery runs inside it


def test_order_without_a_trace_is_delivered_in_a_new_trace(otel: Otel, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
    store.create_order("alice-sub", "alice@example.com")
    [event] = store.claim_events("w1")
    assert event.trace_context is None


def _span(name: str, span_id: str, parent: str | None, start: float, end: float,
          service: str = "shop-api", kind: str = "INTERNAL", **attributes: Any) -> dict[str, Any]:
    return {"trace_id": "ab" * 16, "span_id": span_id, "parent_id": parent, "name": name,
            "service": service, "kind": kind, "start_ns": int(start * 1e9),
            "end_ns": int(end * 1e9), "status": "UNSET", "attributes": attributes}


def test_tree_draws_parents_before_children_with_peers_and_later_marks() -> None:
    spans = [
        _span("SMTP send", "6", "5", 1.30, 1.32, "notification-service", "CLIENT",
              **{"server.address": "127.0.0.1", "server.port": 2525}),
        _span("POST /api/checkout", "1", None, 0.0, 0.010, kind="SERVER"),
        _span("dispatcher deliver order.completed", "2", "1", 1.0, 1.5, kind="CONSUMER"),
        _span("svcauth.token.fetch", "3", "2", 1.01, 1.05, kind="CLIENT", **{
            "server.address": "127.0.0.1", "server.port": 8080, "svcauth.cache.outcome": "miss",
            "svcauth.fetch.attempts": 1, "http.response.status_code": 200}),
        _span("POST", "4", "2", 1.1, 1.4, kind="CLIENT", **{
            "http.request.method": "POST", "url.full": "http://127.0.0.1:9000/api/notifications/order"}),
        _span("POST /api/notifications/order", "5", "4", 1.2, 1.35, "notification-service", "SERVER"),
    ]
    peers = {"127.0.0.1:8080": "keycloak", "127.0.0.1:9000": "notification-service",
             "127.0.0.1:2525": "smtp"}
    tree = render_tree(checkout_trace(spans), peers)
    assert tree.lines == [
        "shop-api POST /api/checkout  10.0 ms",
        "└─ (later, +0.99 s) shop-api dispatcher deliver order.completed  500.0 ms",
        "   ├─ shop-api svcauth.token.fetch [miss, 1 attempt, HTTP 200] → keycloak  40.0 ms",
        "   └─ shop-api → notification-service POST /api/notifications/order  300.0 ms",
        "      └─ notification-service POST /api/notifications/order  150.0 ms",
        "         └─ notification-service SMTP send → smtp  20.0 ms",
    ]
    assert tree.services == ["shop-api", "notification-service"]


def test_span_file_round_trip(otel: Otel, tmp_path: Path) -> None:
    tracer = otel.provider.get_tracer("test")
    with (tracer.start_as_current_span("POST /api/checkout", kind=trace.SpanKind.SERVER),
          tracer.start_as_current_span("child", attributes={"n": 1})):
        pass
    exporter = JsonLinesSpanExporter(tmp_path / "spans" / "svc.jsonl")
    exporter.export(otel.spans())
    loaded = checkout_trace(load_spans(tmp_path / "spans"))
    assert [(s["name"], s["kind"], s["attributes"]) for s in loaded] == [
        ("child", "INTERNAL", {"n": 1}), ("POST /api/checkout", "SERVER", {})]
    assert loaded[0]["parent_id"] == loaded[1]["span_id"]


@pytest.mark.slow
def test_mockmart_demo_prints_the_first_checkouts_trace(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "mockmart.system.cli", "demo", "--no-broker", "--run-dir",
                           str(run_dir)],
                          capture_output=True, text=True, timeout=240, check=False)
    out = done.stdout
    assert "trace of the first checkout" in out, out[-3000:] + done.stderr[-2000:]
    tree = out[out.index("trace of the first checkout"):].splitlines()
    body = [line.strip() for line in tree[1:] if line.startswith("      ")]
    expected_in_order = [
        "shop-api POST /api/checkout",
        "shop-api svcauth.verify [valid, caller storefront]",
        "shop-api dispatcher deliver order.completed",
        "shop-api svcauth.token.fetch [miss, 1 attempt, HTTP 200] → keycloak",
        "shop-api → notification-service POST /api/notifications/order",
        "notification-service POST /api/notifications/order",
        "notification-service svcauth.verify [valid, caller shop-api]",
        "notification-service svcauth.jwks.fetch [ok, 2 keys] → keycloak",
        "notification-service SMTP send → smtp",
    ]
    position = -1
    for want in expected_in_order:
        matches = [i for i, line in enumerate(body) if want in line and i > position]
        assert matches, f"{want!r} not found after line {position} in:\n" + "\n".join(body)
        position = matches[0]
    assert any("(later, +" in line and "dispatcher deliver" in line for line in body)
    spans = load_spans(run_dir / "spans")
    trace_ids = {s["trace_id"] for s in checkout_trace(spans)}
    assert len(trace_ids) == 1
    assert {s["service"] for s in checkout_trace(spans)} == {"shop-api", "notification-service"}
    json.dumps(spans)  # the span files are plain JSON


def test_otlp_endpoint_without_the_exporter_package_says_what_to_install(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from mockmart.tracing import _otlp_processor

    # The demo extra installs the exporter; hide it so the import fails as it would without.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with caplog.at_level(logging.WARNING, logger="mockmart.tracing"):
        assert _otlp_processor("http://127.0.0.1:4318") is None
    assert "pip install opentelemetry-exporter-otlp-proto-http" in caplog.text
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318" in caplog.text


def test_otlp_endpoint_with_the_exporter_installed_exports_in_batches() -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from mockmart.tracing import _otlp_processor

    processor = _otlp_processor("http://127.0.0.1:4318")
    try:
        assert isinstance(processor, BatchSpanProcessor)
    finally:
        processor.shutdown()
