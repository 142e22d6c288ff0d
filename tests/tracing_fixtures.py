"""The tracing backend for the ``tracing_backend``-marked tests: Zipkin, started once per
session, and the OTLP relay that hands Keycloak's own spans (and every MockMart service's) to it.

The relay is cheap (a thread in this process) and starts with the first fixture that needs it,
the session Keycloak included; it keeps spans until Zipkin is attached. Zipkin itself starts
only for tests that ask for it. When Zipkin cannot be had here (no Maven or Java, the download
failed) those tests skip, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mockmart.system.otlp_relay import OtlpRelay
from mockmart.system.zipkin import UNAVAILABLE, ZipkinServer
from service_support import progress, unavailable
from svcauth import SvcAuthError


@pytest.fixture(scope="session")
def otlp_relay() -> Iterator[OtlpRelay]:
    """OTLP/HTTP intake on 127.0.0.1 (``.endpoint``); spans on to Zipkin once attached."""
    with OtlpRelay() as relay:
        yield relay


@pytest.fixture(scope="session")
def zipkin(pytestconfig: pytest.Config, otlp_relay: OtlpRelay) -> Iterator[ZipkinServer]:
    """A Zipkin server (UI and API) fed by the session's relay."""
    server = ZipkinServer(progress=progress(pytestconfig, "zipkin"))
    try:
        server.start()
    except SvcAuthError as exc:
        if exc.code == UNAVAILABLE:
            unavailable("Zipkin", exc.message)
        pytest.fail(f"Zipkin [{exc.code}]: {exc.message}", pytrace=False)
    otlp_relay.forward_to(server.url)
    try:
        yield server
    finally:
        server.stop()
