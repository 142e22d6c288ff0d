"""The tracing UI behind ``mockmart up --otel``: a Zipkin server and the OTLP relay in front of it.

Every MockMart process, Keycloak (``--tracing-enabled``) and the embedded identity provider send
OTLP/HTTP to the relay's endpoint; the relay hands the spans to Zipkin, whose UI shows the
seed's picture: shop-api's token POST, the notification call, notification-service's JWKS GET
and the identity provider's own spans, in one trace.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from mockmart.system.otlp_relay import OtlpRelay
from mockmart.system.zipkin import ZipkinConfig, ZipkinServer

__all__ = ["TraceBackend"]


def _quiet(_: str) -> None:
    pass


class TraceBackend:
    """Zipkin plus the relay; a context manager. ``otlp_endpoint`` is what exporters use."""

    def __init__(self, *, zipkin_port: int = 0, progress: Callable[[str], None] = _quiet) -> None:
        self.zipkin = ZipkinServer(ZipkinConfig(port=zipkin_port), progress=progress)
        self.relay = OtlpRelay()

    @property
    def otlp_endpoint(self) -> str:
        """The OTLP/HTTP base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        return self.relay.endpoint

    @property
    def ui_url(self) -> str:
        """Zipkin's web UI."""
        return self.zipkin.ui_url

    def start(self) -> TraceBackend:
        """Start Zipkin (fetched once), then the relay feeding it."""
        self.zipkin.start()
        self.relay.start()
        self.relay.forward_to(self.zipkin.url)
        return self

    def stop(self) -> None:
        """Stop the relay, then Zipkin."""
        self.relay.stop()
        self.zipkin.stop()

    def __enter__(self) -> TraceBackend:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
