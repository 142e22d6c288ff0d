"""Receiver telemetry: an uncached verification is a span (with the JWKS fetch under it when
keys are fetched), a cached one is only a count; a refetch for a new key and a failing JWKS
endpoint are spans with their outcome; a refused token is an error span with its code."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from telemetry_support import AUDIENCE, ISSUER, JWKS_URI, Clock, JwksServer, Otel, Signer

from svcauth._errors import InvalidTokenError, KeySetUnavailableError
from svcauth.receiver import RemoteKeySet, Verifier


def _verifier(jwks: JwksServer, clock: Clock | None = None) -> Verifier:
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=clock or Clock(5000.0),
                        http_client=jwks.client(), async_http_client=jwks.async_client())
    return Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys)


def _verifications(otel: Otel, **attributes: object) -> float:
    return otel.value("svcauth.receiver.verifications", **attributes)


def test_first_verification_is_a_span_with_the_jwks_fetch_under_it(otel: Otel) -> None:
    signer = Signer()
    verifier = _verifier(JwksServer(signer))
    token = signer.token("shop-api")
    cached_before = _verifications(otel, **{"svcauth.outcome": "valid", "svcauth.cached": True})
    verifier.verify(token)
    for _ in range(3):
        verifier.verify(token)
    [verify] = otel.spans("svcauth.verify")
    [fetch] = otel.spans("svcauth.jwks.fetch")
    assert dict(verify.attributes or {}) == {"svcauth.scheme": "Bearer", "svcauth.outcome": "valid",
                                             "svcauth.caller": "shop-api"}
    assert verify.kind == trace.SpanKind.INTERNAL
    assert dict(fetch.attributes or {}) == {
        "server.address": "idp.telemetry.test", "server.port": 8080, "svcauth.outcome": "ok",
        "svcauth.jwks.keys": 1}
    assert fetch.kind == trace.SpanKind.CLIENT
    assert fetch.parent is not None and fetch.parent.span_id == verify.context.span_id
    assert _verifications(otel, **{"svcauth.outcome": "valid", "svcauth.cached": True}) \
        == cached_before + 3


def test_new_key_is_refetched_in_a_second_jwks_span_with_both_keys(otel: Otel) -> None:
    old, new = Signer("old"), Signer("new")
    jwks = JwksServer(old)
    clock = Clock(5000.0)
    verifier = _verifier(jwks, clock)
    verifier.verify(old.token())
    jwks.signers.append(new)
    clock.advance(31)  # past the unknown-kid cooldown
    claims = verifier.verify(new.token("inventory-sync"))
    assert claims.azp == "inventory-sync"
    fetches = otel.spans("svcauth.jwks.fetch")
    assert [f.attributes["svcauth.jwks.keys"] for f in fetches] == [1, 2]  # type: ignore[index]
    assert jwks.requests == 2
    second = otel.spans("svcauth.verify")[1]
    assert second.attributes["svcauth.caller"] == "inventory-sync"  # type: ignore[index]
    assert fetches[1].parent is not None and fetches[1].parent.span_id == second.context.span_id


def test_failing_jwks_endpoint_is_a_failure_span_and_count(otel: Otel) -> None:
    signer = Signer()
    jwks = JwksServer(signer)
    jwks.status = 500
    failures_before = otel.value("svcauth.receiver.jwks.fetches", **{
        "server.address": "idp.telemetry.test", "svcauth.outcome": "failure"})
    with pytest.raises(KeySetUnavailableError):
        _verifier(jwks).verify(signer.token())
    [fetch] = otel.spans("svcauth.jwks.fetch")
    assert fetch.attributes["svcauth.outcome"] == "failure"  # type: ignore[index]
    assert fetch.attributes["error.type"] == "jwks_unavailable"  # type: ignore[index]
    assert fetch.status.status_code == trace.StatusCode.ERROR
    [verify] = otel.spans("svcauth.verify")
    assert verify.attributes["error.type"] == "jwks_unavailable"  # type: ignore[index]
    assert otel.value("svcauth.receiver.jwks.fetches", **{
        "server.address": "idp.telemetry.test", "svcauth.outcome": "failure"}) == failures_before + 1


@pytest.mark.anyio
async def test_refused_token_is_an_error_span_without_the_claimed_caller(otel: Otel) -> None:
    signer = Signer()
    verifier = _verifier(JwksServer(signer))
    before = _verifications(otel, **{"svcauth.outcome": "invalid", "error.type": "token_expired"})
    expired = signer.token("shop-api", now=1_000_000_000.0)
    with pytest.raises(InvalidTokenError) as info:
        await verifier.averify(expired)
    assert info.value.code == "token_expired"
    [verify] = otel.spans("svcauth.verify")
    assert dict(verify.attributes or {}) == {"svcauth.scheme": "Bearer", "svcauth.outcome": "invalid",
                                              "error.type": "token_expired"}
    assert verify.status.status_code == trace.StatusCode.ERROR
    assert verify.status.description == "token_expired"
    assert _verifications(otel, **{"svcauth.outcome": "invalid",
                                   "error.type": "token_expired"}) == before + 1


def test_hit_ratio_is_hits_over_lookups_of_the_verified_token_caches(otel: Otel) -> None:
    signer = Signer()
    verifier = _verifier(JwksServer(signer))
    token = signer.token()
    verifier.verify(token)
    verifier.verify(token)
    [(attributes, ratio)] = otel.points("svcauth.receiver.verify_cache.hit_ratio")
    assert attributes == {}
    from svcauth._telemetry._tally import caches

    hits, misses = caches.totals()
    assert ratio == pytest.approx(hits / (hits + misses))
    assert 0 < ratio < 1


@pytest.mark.anyio
async def test_without_a_tracer_provider_verifications_are_counted_and_no_span_is_made(
        otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    import svcauth.receiver._verifier as verifier_module

    monkeypatch.setattr(verifier_module, "tracing", lambda: False)  # only the API installed
    signer = Signer()
    verifier = _verifier(JwksServer(signer))
    valid = _verifications(otel, **{"svcauth.outcome": "valid", "svcauth.cached": False})
    expired = _verifications(otel, **{"svcauth.outcome": "invalid", "error.type": "token_expired"})
    verifier.verify(signer.token("shop-api"))
    await verifier.averify(signer.token("cart-reminder-job"))
    with pytest.raises(InvalidTokenError):
        verifier.verify(signer.token("shop-api", now=1_000_000_000.0))
    with pytest.raises(InvalidTokenError):
        await verifier.averify(signer.token("shop-api", now=1_000_000_000.0))
    assert otel.spans("svcauth.verify") == []
    assert _verifications(otel, **{"svcauth.outcome": "valid", "svcauth.cached": False}) == valid + 2
    assert _verifications(otel, **{"svcauth.outcome": "invalid",
                                   "error.type": "token_expired"}) == expired + 2
