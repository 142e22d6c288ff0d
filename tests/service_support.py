"""What every fixture that needs an outside service (Keycloak, Zipkin, PostgreSQL, Chromium,
RabbitMQ) shares: CI detection, skip-or-fail, and progress printed past pytest's capture.

Locally a service that cannot be had here skips its tests; with ``CI=true`` the same thing
fails them, because in CI a skipped service test is a test that did not run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when ``CI`` says so (``1``, ``true``, ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip (locally) or fail (in CI) because ``what`` cannot be had here."""
    if in_ci():
        pytest.fail(f"{what} is required in CI: {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable here: {reason}")


def progress(pytestconfig: pytest.Config, name: str) -> Callable[[str], None]:
    """Print ``[name] message`` past pytest's output capture (a cold start can take a minute;
    a silent minute looks like a hang)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\n[{name}] {message}")
            sys.stderr.flush()

    return say
