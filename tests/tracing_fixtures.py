"""The tracing backend for the ``tracing_backend``-marked tests: Zipkin, started once per
session, and the OTLP relay that hands Keycloak's own spans (and every MockMart service's) to it.

The relay is cheap (a thread in this process) and starts with the first fixture that needs it,
the session Keycloak included; it keeps spans until Zipkin is attached. Zipkin itself starts
only for tests that ask for it. When Zipkin cannot be had here (no Maven or Java, the download
failed) those tests skip, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from mockmart.otlp_relay import OtlpRelay
from mockmart.zipkin import UNAVAILABLE, ZipkinServer
from svcauth import SvcAuthError


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def otlp_relay() -> Iterator[OtlpRelay]:
    """OTLP/HTTP intake on 127.0.0.1 (``.endpoint``); spans on to Zipkin once attached."""
    with OtlpRelay() as relay:
        yield relay


@pytest.fixture(scope="session")
def zipkin(pytestconfig: pytest.Config, otlp_relay: OtlpRelay) -> Iterator[ZipkinServer]:
    """A Zipkin server (UI and API) fed by the session's relay."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\n[zipkin] {message}")
            sys.stderr.flush()

    server = ZipkinServer(progress=say)
    try:
        server.start()
    except SvcAuthError as exc:
        if exc.code == UNAVAILABLE and not _in_ci():
            pytest.skip(f"Zipkin unavailable here: {exc.message}")
        pytest.fail(f"Zipkin [{exc.code}]: {exc.message}", pytrace=False)
    otlp_relay.forward_to(server.url)
    try:
        yield server
    finally:
        server.stop()
