"""In-memory OpenTelemetry for the telemetry tests: one SDK tracer provider with an
in-memory span exporter (also the global provider, for MockMart's tracer) and one meter
provider with an in-memory metric reader, handed to svcauth with ``telemetry.configure``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from telemetry_support import Otel

from svcauth import telemetry


@pytest.fixture(scope="session")
def _providers() -> Otel:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    return Otel(exporter, reader, provider, MeterProvider(metric_readers=[reader]))


@pytest.fixture
def otel(_providers: Otel) -> Iterator[Otel]:
    """Telemetry on, bound to the in-memory providers, spans cleared."""
    was = telemetry.enabled()
    telemetry.set_enabled(True)
    telemetry.configure(tracer_provider=_providers.provider,
                        meter_provider=_providers.meter_provider)
    _providers.exporter.clear()
    yield _providers
    telemetry.set_enabled(was)
