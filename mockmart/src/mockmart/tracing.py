"""MockMart tracing: one checkout is one trace, across processes and the outbox.

Each service process calls :func:`setup_tracing` with its name. Spans go to

- the collector at ``OTEL_EXPORTER_OTLP_ENDPOINT`` (Tempo, Jaeger, any OTLP collector) when
  that is set and ``opentelemetry-exporter-otlp-proto-http`` is installed (a clear warning
  says what to install otherwise);
- the JSON-lines file ``MOCKMART_SPAN_FILE`` when set (``mockmart demo`` gives each service
  one under ``<run dir>/spans/`` and prints the first checkout's trace from them).

Server spans come from FastAPI's own telemetry when it has it (``FastAPI(telemetry=...)``,
see :func:`fastapi_options`), else from :class:`ServerSpanMiddleware`; both continue a W3C
``traceparent`` (:func:`trace_app` picks).
Client spans: ``opentelemetry-instrumentation-httpx`` when installed traces every httpx
client, svcauth's token and JWKS fetches included; without it the dispatcher's client is
wrapped in :class:`TracingTransport` and svcauth's own ``svcauth.token.fetch`` and
``svcauth.jwks.fetch`` spans stand for the calls to the identity provider. The outbox row
stores the checkout's trace context (:func:`current_context_headers`), and the dispatcher
continues it (:func:`context_from_headers`), however much later it delivers.
Without the OpenTelemetry SDK, all of this is off.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "SPAN_FILE_VAR",
    "JsonLinesSpanExporter",
    "ServerSpanMiddleware",
    "TracingTransport",
    "context_from_headers",
    "current_context_headers",
    "fastapi_options",
    "httpx_instrumented",
    "setup_tracing",
    "span",
    "trace_app",
    "tracer",
]

SPAN_FILE_VAR = "MOCKMART_SPAN_FILE"
log = logging.getLogger("mockmart.tracing")

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - the demo extra installs it
    trace = None  # type: ignore[assignment]

_state: dict[str, Any] = {"httpx": False}


def tracer() -> Any:
    """MockMart's tracer (a no-op one until :func:`setup_tracing` installs a provider)."""
    return trace.get_tracer("mockmart") if trace is not None else None


class JsonLinesSpanExporter:
    """Writes finished spans, one JSON object a line, to ``path`` (appending)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @staticmethod
    def record(span: Any) -> dict[str, Any]:
        """The JSON-able form of one finished SDK span."""
        parent = span.parent
        return {
            "trace_id": format(span.context.trace_id, "032x"),
            "span_id": format(span.context.span_id, "016x"),
            "parent_id": format(parent.span_id, "016x") if parent is not None else None,
            "name": span.name,
            "service": span.resource.attributes.get("service.name", "?"),
            "kind": span.kind.name,
            "start_ns": span.start_time,
            "end_ns": span.end_time,
            "status": span.status.status_code.name,
            "attributes": {k: v if isinstance(v, str | int | float | bool) else str(v)
                           for k, v in (span.attributes or {}).items()},
        }

    def export(self, spans: Sequence[Any]) -> Any:
        """Append ``spans``; SUCCESS (or FAILURE when the file cannot be written)."""
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = "".join(json.dumps(self.record(s), separators=(",", ":")) + "\n" for s in spans)
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write(lines)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Writes are synchronous: always flushed."""
        return True


def _otlp_processor(endpoint: str) -> Any:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter,
        )
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT=%s is set, but no OTLP exporter is installed: "
                    "pip install opentelemetry-exporter-otlp-proto-http (spans are not sent)",
                    endpoint)
        return None
    # One second between batches: a trace shows up in the UI while the person still looks.
    return BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"),
                              schedule_delay_millis=1000)


def setup_tracing(service: str, env: Mapping[str, str] | None = None) -> Any:
    """Install a tracer provider for ``service`` exporting as the module docstring says;
    returns it, or ``None`` when the SDK is missing or nothing would receive spans."""
    env = os.environ if env is None else env
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    span_file = env.get(SPAN_FILE_VAR, "")
    if trace is None or not (endpoint or span_file):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        log.warning("tracing is off: the OpenTelemetry SDK is not installed "
                    "(pip install ./mockmart)")
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if endpoint:
        processor = _otlp_processor(endpoint)
        if processor is not None:
            provider.add_span_processor(processor)
    if span_file:
        # Simple (synchronous) export: a service stopped by a signal loses no span.
        exporter = JsonLinesSpanExporter(Path(span_file))
        provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    trace.set_tracer_provider(provider)
    try:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    except ImportError:
        log.info("opentelemetry-instrumentation-httpx is not installed: only the dispatcher's "
                 "calls and svcauth's fetches are traced on the client side")
    else:
        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        _state["httpx"] = True
    return provider


def httpx_instrumented() -> bool:
    """True when every httpx client is traced by the instrumentation package."""
    return bool(_state["httpx"])


def span(name: str, attributes: Mapping[str, Any], *, kind: str = "INTERNAL",
         parent_headers: Mapping[str, str] | None = None) -> Any:
    """A current span (a no-op context manager without tracing); ``parent_headers``: W3C
    headers of the parent (an outbox event's stored context)."""
    if trace is None:
        return contextlib.nullcontext()
    context = propagate.extract(dict(parent_headers)) if parent_headers is not None else None
    return tracer().start_as_current_span(name, context=context, kind=SpanKind[kind],
                                          attributes=dict(attributes), record_exception=False)


def current_context_headers() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``...); empty without one."""
    carrier: dict[str, str] = {}
    if trace is not None:
        propagate.inject(carrier)
    return carrier


def context_from_headers(headers: Mapping[str, str] | None) -> Any:
    """The OpenTelemetry context carried by W3C ``headers`` (``None`` without tracing)."""
    if trace is None:
        return None
    return propagate.extract(dict(headers or {}))


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]


class ServerSpanMiddleware:
    """ASGI middleware: one SERVER span per HTTP request (``METHOD /path``), continuing the
    request's ``traceparent``; ``/healthz`` is not traced."""

    def __init__(self, app: ASGIApp, *, exclude_paths: Sequence[str] = ("/healthz",)) -> None:
        self.app = app
        self.exclude_paths = frozenset(exclude_paths)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """Trace ``http`` scopes; pass everything else through."""
        if trace is None or scope.get("type") != "http" or scope.get("path") in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
        method, path = scope.get("method", "GET"), scope.get("path", "")
        status: dict[str, int] = {}

        async def send_status(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status["code"] = int(message.get("status", 0))
            await send(message)

        attributes = {"http.request.method": method, "url.path": path}
        with tracer().start_as_current_span(f"{method} {path}", context=propagate.extract(headers),
                                            kind=SpanKind.SERVER, attributes=attributes,
                                            record_exception=False) as span:
            await self.app(scope, receive, send_status)
            code = status.get("code", 0)
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))


def _native_fastapi_telemetry() -> bool:
    if trace is None:
        return False
    try:
        from fastapi import FastAPI
        from fastapi.telemetry import TelemetryConfig  # noqa: F401 - FastAPI >= its telemetry
    except ImportError:
        return False
    return "telemetry" in inspect.signature(FastAPI.__init__).parameters


def _health(scope: MutableMapping[str, Any]) -> bool:
    return bool(scope.get("path") == "/healthz")


def fastapi_options() -> dict[str, Any]:
    """Keyword arguments for ``FastAPI(...)``: its own telemetry, one SERVER span per
    request (no per-dependency spans, no ``/healthz``), when this FastAPI has it."""
    if not _native_fastapi_telemetry():
        return {}
    return {"telemetry": {"operation_spans": False, "exclude": _health}}


def trace_app(app: Any) -> None:
    """Give ``app`` server spans: :class:`ServerSpanMiddleware` unless FastAPI's own
    telemetry (:func:`fastapi_options`) does it."""
    if not _native_fastapi_telemetry():
        app.add_middleware(ServerSpanMiddleware)


class TracingTransport(httpx.AsyncBaseTransport):
    """Wraps an async transport: a CLIENT span per request, ``traceparent`` sent along (used
    when the httpx instrumentation package is not installed)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` inside a CLIENT span."""
        if trace is None:
            return await self.inner.handle_async_request(request)
        attributes = {"http.request.method": request.method, "server.address": request.url.host,
                      "server.port": request.url.port or 0, "url.path": request.url.path}
        with tracer().start_as_current_span(request.method, kind=SpanKind.CLIENT,
                                            attributes=attributes, record_exception=False) as span:
            propagate.inject(request.headers)
            response = await self.inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()
