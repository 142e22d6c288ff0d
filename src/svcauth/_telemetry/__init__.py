"""svcauth's telemetry internals; the public face is :mod:`svcauth.telemetry`.

- ``_state``: whether telemetry is on, the tracer and meter, span helpers (no-op without
  OpenTelemetry);
- ``_tally``: plain-int tallies the hot paths bump, read lazily by observable instruments;
- ``_metrics``: the OpenTelemetry instruments over the tallies;
- ``_records``: what the token fetch, JWKS fetch and verification shells call;
- ``_audit``: the ``svcauth.audit`` JSON line.
"""
