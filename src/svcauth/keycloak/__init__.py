"""Keycloak tooling: running a real Keycloak locally (no Docker) for development and tests.

``LocalKeycloak`` fetches ``org.keycloak:keycloak-quarkus-dist`` with Maven into a cache outside
git, unpacks it once, and runs ``kc.sh start-dev`` on 127.0.0.1 with the realm file imported.
"""

from svcauth.keycloak._dist import (
    DEFAULT_VERSION,
    FALLBACK_VERSION,
    Distribution,
    cache_root,
    ensure_distribution,
    java_home_for,
)
from svcauth.keycloak._endpoints import KeycloakEndpoints
from svcauth.keycloak._process import free_port
from svcauth.keycloak._server import KeycloakConfig, LocalKeycloak

__all__ = [
    "DEFAULT_VERSION",
    "FALLBACK_VERSION",
    "Distribution",
    "KeycloakConfig",
    "KeycloakEndpoints",
    "LocalKeycloak",
    "cache_root",
    "ensure_distribution",
    "free_port",
    "java_home_for",
]
