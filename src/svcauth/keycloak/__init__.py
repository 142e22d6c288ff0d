"""Keycloak tooling: running a real Keycloak locally (no Docker) for development and tests.

``LocalKeycloak`` fetches ``org.keycloak:keycloak-quarkus-dist`` with Maven into a cache outside
git, unpacks it once, and runs ``kc.sh start-dev`` on 127.0.0.1 with the realm file imported.

The plumbing it runs on serves other local servers too (MockMart's Zipkin): ``MavenArtifact``
and ``fetch_maven_artifact`` (one file from Maven Central into a cache, with progress),
``cache_lock``, ``free_port``, ``retry_taken_port``, ``spawn_watchdog`` and
``terminate_group``.
"""

from svcauth._maven import MavenArtifact
from svcauth._maven import fetch_artifact as fetch_maven_artifact
from svcauth._maven import locked as cache_lock
from svcauth.keycloak._dist import (
    DEFAULT_VERSION,
    FALLBACK_VERSION,
    Distribution,
    cache_root,
    ensure_distribution,
    java_home_for,
)
from svcauth.keycloak._endpoints import KeycloakEndpoints
from svcauth.keycloak._process import free_port, retry_taken_port, spawn_watchdog, terminate_group
from svcauth.keycloak._server import KeycloakConfig, LocalKeycloak

__all__ = [
    "DEFAULT_VERSION",
    "FALLBACK_VERSION",
    "Distribution",
    "KeycloakConfig",
    "KeycloakEndpoints",
    "LocalKeycloak",
    "MavenArtifact",
    "cache_lock",
    "cache_root",
    "ensure_distribution",
    "fetch_maven_artifact",
    "free_port",
    "java_home_for",
    "retry_taken_port",
    "spawn_watchdog",
    "terminate_group",
]
