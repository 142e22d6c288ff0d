"""``GET /metrics`` on every MockMart service: svcauth's metrics in Prometheus text format.

svcauth records its metrics with OpenTelemetry (see :mod:`svcauth.telemetry`): token requests
by client and outcome, the verified-token cache hit ratio, verifications by outcome and code,
refusals by code, JWKS fetches. Each service process installs a meter provider whose reader is
OpenTelemetry's Prometheus exporter, and serves what it collects at ``/metrics``, so a person
(or a Prometheus server) reads them with ``curl``::

    svcauth_client_token_requests_total{svcauth_client_id="shop-api",svcauth_outcome="hit"} 19.0
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["install_metrics"]

log = logging.getLogger("mockmart.metrics")

_state: dict[str, bool] = {"provider": False}


def _provider() -> bool:
    if _state["provider"]:
        return True
    try:
        from opentelemetry import metrics
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
    except ImportError:
        log.info("metrics off: pip install opentelemetry-exporter-prometheus")
        return False
    metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
    _state["provider"] = True
    return True


def install_metrics(app: Any) -> bool:
    """Add ``GET /metrics`` to the Starlette or FastAPI ``app``; False when the exporter is
    not installed."""
    if not _provider():
        return False
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.requests import Request
    from starlette.responses import Response

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return True
