"""Real Keycloak for the ``keycloak``-marked tests, started once per test session.

The start-up lives in the session fixtures, so ``pytest -m "not keycloak"`` never starts (or
downloads) Keycloak. When Keycloak cannot be had here (no Maven, no Java, download failed) the
tests skip, except with ``CI=true``, where they fail. A Keycloak that is there but does not start
(for example a realm file it refuses) always fails, with the tail of its log.

``SVCAUTH_KEYCLOAK_VERSION`` picks another version (the fall-back: 26.5.6 on Java 17).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from keycloak_support import ENV_FILE, REALM_FILE
from service_support import progress, unavailable
from svcauth._envfile import load_env_file
from svcauth._errors import SvcAuthError
from svcauth.keycloak import (
    DEFAULT_VERSION,
    KeycloakConfig,
    KeycloakEndpoints,
    LocalKeycloak,
)
from svcauth.keycloak._dist import UNAVAILABLE


def _start(auth_path: str, pytestconfig: pytest.Config, tracing_endpoint: str = "") -> LocalKeycloak:
    config = KeycloakConfig(
        version=os.environ.get("SVCAUTH_KEYCLOAK_VERSION", DEFAULT_VERSION),
        auth_path=auth_path, realm_files=(REALM_FILE,), env_file=ENV_FILE,
        tracing_endpoint=tracing_endpoint)
    server = LocalKeycloak(config, progress=progress(pytestconfig, "keycloak"))
    try:
        server.start()
    except SvcAuthError as exc:
        if exc.code == UNAVAILABLE:
            unavailable("Keycloak", exc.message)
        pytest.fail(f"Keycloak [{exc.code}]: {exc.message}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def keycloak_env() -> dict[str, str]:
    """The development values of deploy/dev.env (client secrets, alice's password)."""
    return load_env_file(ENV_FILE)


@pytest.fixture(scope="session")
def keycloak(pytestconfig: pytest.Config, otlp_relay: Any) -> Iterator[KeycloakEndpoints]:
    """A real Keycloak with the techstore realm imported: base_url, issuer, token_endpoint,
    admin_username/admin_password and the other URLs of :class:`KeycloakEndpoints`.

    Its own traces go to the session's OTLP relay (kept there until a test attaches Zipkin),
    so the tracing tests find Keycloak's spans without a Keycloak of their own."""
    server = _start("", pytestconfig, tracing_endpoint=otlp_relay.endpoint)
    try:
        yield server.endpoints
    finally:
        server.stop()


@pytest.fixture(scope="session")
def keycloak_auth(pytestconfig: pytest.Config) -> Iterator[KeycloakEndpoints]:
    """A second, independent Keycloak under the legacy ``/auth`` path (started on first use)."""
    server = _start("/auth", pytestconfig)
    try:
        yield server.endpoints
    finally:
        server.stop()
