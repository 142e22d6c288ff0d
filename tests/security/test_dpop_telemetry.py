"""DPoP in traces: the uncached verification of a bound token is a ``svcauth.verify`` span
with ``svcauth.scheme`` DPoP, and every proof check (cached token or not) is a
``svcauth.dpop.proof`` span with its outcome and, when refused, the refusal code; no span
carries the token or the proof."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dpop_kit import access_token, caller_key, guard, other_key, proof, request
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from svcauth import AuthError, telemetry


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    was = telemetry.enabled()
    telemetry.set_enabled(True)
    telemetry.configure(tracer_provider=provider)
    yield exporter
    telemetry.set_enabled(was)
    telemetry.configure(tracer_provider=None)


def _named(exporter: InMemorySpanExporter, name: str) -> list[dict[str, object]]:
    return [dict(s.attributes or {}) for s in exporter.get_finished_spans() if s.name == name]


def test_bound_token_verification_and_each_proof_are_spans(
        spans: InMemorySpanExporter) -> None:
    g = guard()
    token = access_token(caller_key().jkt)
    for _ in range(3):  # the first verifies the token, all three check their own proof
        g.authenticate([f"DPoP {token}"], request=request([proof(token=token)]))
    assert _named(spans, "svcauth.verify") == [
        {"svcauth.scheme": "DPoP", "svcauth.outcome": "valid", "svcauth.caller": "shop-api"}]
    assert _named(spans, "svcauth.dpop.proof") == [{"svcauth.outcome": "valid"}] * 3


@pytest.mark.parametrize(("sent", "code"), [
    ("replayed", "dpop_replayed"),
    ("other_key", "dpop_jkt_mismatch"),
    ("other_url", "dpop_htu_mismatch"),
])
def test_refused_proof_span_carries_the_code_and_no_secret(
        spans: InMemorySpanExporter, sent: str, code: str) -> None:
    g = guard()
    token = access_token(caller_key().jkt)
    first = proof(token=token)
    g.authenticate([f"DPoP {token}"], request=request([first]))
    bad = {"replayed": first,
           "other_key": proof(other_key(), token=token),
           "other_url": proof(token=token, url="https://payments.example/refunds")}[sent]
    with pytest.raises(AuthError) as caught:
        g.authenticate([f"DPoP {token}"], request=request([bad]))
    assert caught.value.code == code
    refused = _named(spans, "svcauth.dpop.proof")[-1]
    assert refused == {"svcauth.outcome": "invalid", "error.type": code}
    everything = repr([s.to_json() for s in spans.get_finished_spans()])
    assert token not in everything and bad not in everything
