"""Shared fixtures: async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# The real-Keycloak session fixtures (`keycloak`, `keycloak_auth`, `keycloak_env`) are
# visible to every test directory, so one Keycloak serves the whole session.
# The tracing backend (`otlp_relay`, `zipkin`) likewise; pytester runs the svcauth pytest
# plugin in throw-away projects (tests/testing).
pytest_plugins = ["keycloak_fixtures", "tracing_fixtures", "pytester"]
