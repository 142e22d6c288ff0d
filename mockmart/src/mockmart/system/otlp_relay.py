"""An OTLP/HTTP trace intake that hands spans on to Zipkin: how Keycloak's own spans get there.

Keycloak exports its traces over OTLP only (``--tracing-enabled``), and Zipkin's server has no
OTLP intake. OpenTelemetry's Collector would bridge them, but no build of it can be fetched
here (a Go build from the module proxy takes over ten minutes), so this relay does the one
thing needed: it accepts ``POST /v1/traces`` (``application/x-protobuf``, gzip or not), turns
each OTLP span back into an SDK ``ReadableSpan``, and lets OpenTelemetry's own Zipkin exporter
encode and send them. Decoding is ``opentelemetry-proto``'s, encoding the exporter's: the relay
only maps fields.

Until :meth:`OtlpRelay.forward_to` names a Zipkin, spans are kept (at most ``keep`` of them,
oldest dropped first) and sent when it does: a Keycloak started before the tracing backend
loses nothing that happened in between.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["OtlpRelay", "readable_spans"]

log = logging.getLogger("mockmart.system.otlp_relay")

_MAX_BODY = 8 * 1024 * 1024


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    raw = getattr(any_value, kind)
    if kind == "array_value":
        return tuple(v for v in (_value(item) for item in raw.values) if v is not None)
    if kind == "kvlist_value":
        return str({kv.key: _value(kv.value) for kv in raw.values})
    if kind == "bytes_value":
        return raw.hex()
    return raw


def _attributes(key_values: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: v for kv in key_values if (v := _value(kv.value)) is not None}


def readable_spans(request_body: bytes) -> list[Any]:
    """The SDK spans in one OTLP ``ExportTraceServiceRequest`` (protobuf bytes)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

    message = ExportTraceServiceRequest()
    message.ParseFromString(request_body)
    kinds = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT,
             4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
    codes = {1: StatusCode.OK, 2: StatusCode.ERROR}

    def context(trace_id: bytes, span_id: bytes, remote: bool) -> SpanContext:
        return SpanContext(int.from_bytes(trace_id, "big"), int.from_bytes(span_id, "big"),
                           is_remote=remote, trace_flags=TraceFlags(TraceFlags.SAMPLED))

    spans: list[Any] = []
    for resource_spans in message.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            # The Zipkin exporter writes the version as a tag; Zipkin refuses a null tag.
            scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version or "")
            for s in scope_spans.spans:
                spans.append(ReadableSpan(
                    name=s.name,
                    context=context(s.trace_id, s.span_id, False),
                    parent=context(s.trace_id, s.parent_span_id, True) if s.parent_span_id else None,
                    resource=resource, attributes=_attributes(s.attributes),
                    events=[Event(e.name, _attributes(e.attributes), e.time_unix_nano)
                            for e in s.events],
                    links=[Link(context(link.trace_id, link.span_id, True),
                                _attributes(link.attributes)) for link in s.links],
                    kind=kinds.get(s.kind, SpanKind.INTERNAL),
                    status=Status(codes.get(s.status.code, StatusCode.UNSET),
                                  s.status.message or None),
                    start_time=s.start_time_unix_nano, end_time=s.end_time_unix_nano,
                    instrumentation_scope=scope))
    return spans


class OtlpRelay:
    """``POST /v1/traces`` on 127.0.0.1, spans on to a Zipkin server. A context manager."""

    def __init__(self, *, port: int = 0, keep: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._pending: deque[Any] = deque(maxlen=keep)
        self._exporter: Any = None
        self.received = 0
        """Spans received so far."""
        self.forwarded = 0
        """Spans Zipkin accepted so far."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP base URL (exporters append ``/v1/traces``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> OtlpRelay:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="otlp-relay")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the exporter (idempotent)."""
        if self._thread is not None:  # shutdown() waits for a serve loop that must be running
            self._server.shutdown()
            self._thread = None
        self._server.server_close()
        if self._exporter is not None:
            self._exporter.shutdown()

    def __enter__(self) -> OtlpRelay:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def forward_to(self, zipkin_url: str) -> None:
        """Send every span from now on (and those kept so far) to ``zipkin_url``."""
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        with self._lock:
            self._exporter = ZipkinExporter(endpoint=f"{zipkin_url.rstrip('/')}/api/v2/spans",
                                            timeout=10)
            kept = list(self._pending)
            self._pending.clear()
        self._send(kept)

    def accept(self, body: bytes) -> int:
        """Take one OTLP request body; the number of spans in it."""
        spans = readable_spans(body)
        with self._lock:
            self.received += len(spans)
            if self._exporter is None:
                self._pending.extend(spans)
                return len(spans)
        self._send(spans)
        return len(spans)

    def _send(self, spans: Sequence[Any]) -> None:
        if not spans:
            return
        from opentelemetry.sdk.trace.export import SpanExportResult

        if self._exporter.export(spans) is SpanExportResult.SUCCESS:
            with self._lock:
                self.forwarded += len(spans)
        else:
            log.warning("Zipkin refused %d spans (or could not be reached)", len(spans))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/traces":
                    self._answer(404, b"")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._answer(413, b"")
                    return
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                try:
                    relay.accept(body)
                except Exception:  # a body we cannot decode: the sender's problem, not ours
                    log.warning("OTLP request not understood", exc_info=True)
                    self._answer(400, b"")
                    return
                # An empty ExportTraceServiceResponse is zero bytes of protobuf.
                self._answer(200, b"")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
