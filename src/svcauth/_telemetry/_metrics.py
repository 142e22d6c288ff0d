"""svcauth's OpenTelemetry instruments. Counters that hot paths would bump are observable:
they read the plain-int tallies of :mod:`._tally` when a reader collects.

=========================================== ===== ===========================================
instrument                                  unit  attributes
=========================================== ===== ===========================================
``svcauth.client.token.requests``           1     ``svcauth.client_id``, ``svcauth.outcome``
                                                  (hit, refresh_ahead, miss, failure)
``svcauth.client.token.fetch.duration``     s     ``svcauth.client_id``, ``svcauth.outcome``
                                                  (ok or the error code)
``svcauth.client.token.remaining_lifetime`` s     ``svcauth.client_id`` (sampled at collection)
``svcauth.receiver.verifications``          1     ``svcauth.outcome`` (valid, invalid),
                                                  ``error.type``, ``svcauth.cached``
``svcauth.receiver.verify_cache.hit_ratio`` 1     none
``svcauth.receiver.jwks.fetches``           1     ``server.address``, ``svcauth.outcome``
                                                  (ok, failure)
``svcauth.receiver.refusals``               1     ``error.type`` (the refusal's code),
                                                  ``http.response.status_code``
=========================================== ===== ===========================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import _tally
from ._state import STATE


def _observation(value: float, attributes: dict[str, Any]) -> Any:
    from opentelemetry.metrics import Observation

    return Observation(value, attributes)


def _token_requests(options: Any) -> Iterable[Any]:
    for tally in _tally.client_tallies():
        for outcome, count in tally.outcomes().items():
            if count:
                yield _observation(count, {"svcauth.client_id": tally.client_id,
                                           "svcauth.outcome": outcome})


def _remaining_lifetime(options: Any) -> Iterable[Any]:
    for tally in _tally.client_tallies():
        left = [r for r in (s.remaining_lifetime() for s in list(tally.sources)) if r is not None]
        if left:
            yield _observation(min(left), {"svcauth.client_id": tally.client_id})


def _verifications(options: Any) -> Iterable[Any]:
    hits, _misses = _tally.caches.totals()
    if hits:
        yield _observation(hits, {"svcauth.outcome": "valid", "svcauth.cached": True})
    for (outcome, code), count in list(_tally.verifications.items()):
        attributes: dict[str, Any] = {"svcauth.outcome": outcome, "svcauth.cached": False}
        if code:
            attributes["error.type"] = code
        yield _observation(count, attributes)


def _refusals(options: Any) -> Iterable[Any]:
    for (code, status), count in list(_tally.refusals.items()):
        yield _observation(count, {"error.type": code, "http.response.status_code": status})


def _hit_ratio(options: Any) -> Iterable[Any]:
    hits, misses = _tally.caches.totals()
    if hits + misses:
        yield _observation(hits / (hits + misses), {})


class Instruments:
    """The synchronous instruments (the observable ones need no handle)."""

    def __init__(self, meter: Any) -> None:
        meter.create_observable_counter(
            "svcauth.client.token.requests", [_token_requests], unit="1",
            description="token() calls by client and outcome")
        meter.create_observable_gauge(
            "svcauth.client.token.remaining_lifetime", [_remaining_lifetime], unit="s",
            description="seconds left on the cached token (least over a client's sources)")
        meter.create_observable_counter(
            "svcauth.receiver.verifications", [_verifications], unit="1",
            description="token verifications by outcome and error code")
        meter.create_observable_counter(
            "svcauth.receiver.refusals", [_refusals], unit="1",
            description="requests a Guard refused, by code and HTTP status")
        meter.create_observable_gauge(
            "svcauth.receiver.verify_cache.hit_ratio", [_hit_ratio], unit="1",
            description="verified-token cache hits / lookups")
        self.fetch_duration = meter.create_histogram(
            "svcauth.client.token.fetch.duration", unit="s",
            description="token endpoint fetches (all attempts) by client and outcome")
        self.jwks_fetches = meter.create_counter(
            "svcauth.receiver.jwks.fetches", unit="1",
            description="JWKS fetches by host and outcome")


def instruments() -> Instruments | None:
    """The instruments (created on first use), or ``None`` when telemetry is off."""
    if not STATE.enabled:
        return None
    found = STATE.instruments
    if found is None:
        from opentelemetry import metrics

        from .. import __version__ as version

        meter = metrics.get_meter("svcauth", version, meter_provider=STATE.meter_provider)
        found = STATE.instruments = Instruments(meter)
    return found  # type: ignore[no-any-return]
