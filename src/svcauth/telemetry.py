"""Telemetry for svcauth: OpenTelemetry spans and metrics, and an audit log.

Install ``svcauth[otel]`` (``opentelemetry-api``; the SDK to export). Without it, or with
``SVCAUTH_TELEMETRY=off``, everything here is a no-op and the token hot path runs its
uninstrumented code. svcauth uses the global tracer and meter providers unless
:func:`configure` names others.

Spans (never on a cache hit):

- ``svcauth.token.fetch`` (CLIENT): ``svcauth.client_id``, ``server.address`` (token
  endpoint host), ``svcauth.cache.outcome`` (``miss``/``refresh_ahead``),
  ``svcauth.fetch.attempts``, ``http.response.status_code``, ``error.type`` (stable code);
- ``svcauth.jwks.fetch`` (CLIENT): ``server.address``, ``svcauth.jwks.keys``,
  ``svcauth.outcome`` (``ok``/``failure``), ``error.type``;
- ``svcauth.verify`` (INTERNAL, uncached verifications): ``svcauth.outcome``
  (``valid``/``invalid``), ``error.type``, ``svcauth.caller`` (``azp`` of a verified token).

Metrics: see :mod:`svcauth._telemetry._metrics` (token requests by client and outcome, fetch
duration, remaining token lifetime, verifications by outcome and code, verified-token cache
hit ratio, JWKS fetches by outcome). Cache hits are plain ``int`` increments read lazily.

Audit: every ``Guard`` decision is one JSON line on logger ``svcauth.audit`` (INFO); see
:func:`enable_audit_log`::

    from svcauth import telemetry
    telemetry.enable_audit_log()   # {"time":..., "client_id":"shop-api", "endpoint":"POST /x",
                                   #  "decision":"allow", "status":200, "error_code":null, ...}
"""

from __future__ import annotations

from typing import Any

from ._telemetry._audit import AUDIT_LOGGER, audit_record, enable_audit_log
from ._telemetry._metrics import instruments
from ._telemetry._state import AVAILABLE, STATE

__all__ = [
    "AUDIT_LOGGER",
    "AVAILABLE",
    "audit_record",
    "configure",
    "enable_audit_log",
    "enabled",
    "set_enabled",
]


def enabled() -> bool:
    """True when spans and metrics are recorded (OpenTelemetry importable and not off)."""
    return STATE.enabled


def set_enabled(on: bool) -> None:
    """Turn telemetry on or off (on only if OpenTelemetry is importable).

    Token sources pick their hot path when built: set this before building them.
    """
    STATE.enabled = bool(on) and AVAILABLE


def configure(*, tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Use these OpenTelemetry providers instead of the global ones (``None``: global).

    Instruments are created anew on ``meter_provider`` (an SDK ``MeterProvider`` with an
    ``InMemoryMetricReader`` in tests).
    """
    STATE.tracer_provider = tracer_provider
    STATE.meter_provider = meter_provider
    STATE.tracer = None
    STATE.instruments = None
    instruments()
