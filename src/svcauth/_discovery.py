"""OpenID Connect discovery and Keycloak URL building.

Pure parts (URL building, metadata validation) are separate from the round trip, which is
one flow (:func:`discovery_flow`, :func:`keycloak_discovery_flow`) run by the shared drivers
of :mod:`svcauth._flow`; ``discover``/``adiscover`` and the Keycloak pair are one-line
entry points.

Keycloak serves a realm at ``<base>/realms/<realm>`` (Keycloak 17+) or at
``<base>/auth/realms/<realm>`` (the legacy WildFly path, or ``--http-relative-path=/auth``).
``auth_path="auto"`` asks the server which one it uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._errors import ConfigurationError, DiscoveryError
from ._flow import Flow, HttpAnswer, HttpRequest, run_async, run_sync

WELL_KNOWN = "/.well-known/openid-configuration"
DISCOVERY_TIMEOUT = 5.0
MAX_DISCOVERY_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of an OpenID Provider's discovery document svcauth uses."""

    issuer: str
    """The ``issuer``; equal to the URL discovery was asked of (OpenID Discovery §4.3)."""
    token_endpoint: str
    """Where client credentials are exchanged for an access token."""
    jwks_uri: str
    """Where the provider publishes its signing keys."""
    introspection_endpoint: str | None = None
    """RFC 7662 token introspection, when offered."""
    token_endpoint_auth_methods: tuple[str, ...] = ()
    """``token_endpoint_auth_methods_supported``, empty when not advertised."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The whole document."""


def normalize_auth_path(auth_path: str | None) -> str | None:
    """``"/auth"``, ``""`` or ``None`` (meaning auto). Accepts ``auth``, ``/auth/``, ``auto``."""
    if auth_path is None:
        return None
    value = auth_path.strip()
    if value.lower() == "auto":
        return None
    value = value.strip("/")
    return f"/{value}" if value else ""


def keycloak_issuer(base_url: str, realm: str, auth_path: str = "") -> str:
    """The issuer URL of a Keycloak realm: ``<base_url><auth_path>/realms/<realm>``."""
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"Keycloak URL: expected an absolute http(s) URL, found {base_url!r}"
        )
    if not realm or "/" in realm:
        raise ConfigurationError(f"Keycloak realm: expected a realm name, found {realm!r}")
    path = normalize_auth_path(auth_path) or ""
    return f"{base_url.rstrip('/')}{path}/realms/{realm}"


def keycloak_issuer_candidates(base_url: str, realm: str, auth_path: str | None) -> list[str]:
    """Issuers to try in order: one when the path is known, both (modern first) for auto."""
    path = normalize_auth_path(auth_path)
    if path is not None:
        return [keycloak_issuer(base_url, realm, path)]
    return [keycloak_issuer(base_url, realm, ""), keycloak_issuer(base_url, realm, "/auth")]


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + WELL_KNOWN


def parse_metadata(issuer: str, document: Any) -> ProviderMetadata:
    """Validate a discovery document against the issuer it was fetched for."""
    if not isinstance(document, dict):
        raise DiscoveryError(
            f"discovery at {discovery_url(issuer)}: expected a JSON object, found "
            f"{type(document).__name__}"
        )
    found = document.get("issuer")
    if found != issuer.rstrip("/") and found != issuer:
        raise DiscoveryError(
            f"discovery at {discovery_url(issuer)}: expected issuer {issuer!r}, found {found!r}"
        )
    missing = [k for k in ("token_endpoint", "jwks_uri") if not isinstance(document.get(k), str)]
    if missing:
        raise DiscoveryError(
            f"discovery at {discovery_url(issuer)}: expected {', '.join(missing)} in the document"
        )
    methods = document.get("token_endpoint_auth_methods_supported") or ()
    intro = document.get("introspection_endpoint")
    return ProviderMetadata(
        issuer=str(found),
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        introspection_endpoint=intro if isinstance(intro, str) else None,
        token_endpoint_auth_methods=tuple(m for m in methods if isinstance(m, str)),
        raw=document,
    )


def _check_answer(url: str, answer: HttpAnswer) -> Any:
    if answer.status != 200:
        raise DiscoveryError(f"discovery at {url}: expected HTTP 200, found {answer.status}")
    if len(answer.body) > MAX_DISCOVERY_BYTES:
        raise DiscoveryError(f"discovery at {url}: document larger than {MAX_DISCOVERY_BYTES} bytes")
    try:
        return json.loads(answer.body)
    except ValueError as exc:
        raise DiscoveryError(f"discovery at {url}: expected JSON, found unparsable body") from exc


def discovery_flow(issuer: str) -> Flow[ProviderMetadata]:
    """Fetch and validate ``<issuer>/.well-known/openid-configuration``, as a flow."""
    url = discovery_url(issuer)
    answer = yield HttpRequest("GET", url, timeout=None, follow_redirects=None)
    if not isinstance(answer, HttpAnswer):
        raise DiscoveryError(f"discovery at {url}: unreachable ({answer.kind})")
    return parse_metadata(issuer, _check_answer(url, answer))


def keycloak_discovery_flow(base_url: str, realm: str,
                            auth_path: str | None) -> Flow[ProviderMetadata]:
    """Discover a Keycloak realm; with ``auth_path=None`` or ``"auto"`` try both layouts."""
    errors: list[str] = []
    for issuer in keycloak_issuer_candidates(base_url, realm, auth_path):
        try:
            return (yield from discovery_flow(issuer))
        except DiscoveryError as exc:
            errors.append(exc.message)
    raise DiscoveryError("; ".join(errors))


def discover(issuer: str, *, client: httpx.Client | None = None) -> ProviderMetadata:
    """Fetch and validate ``<issuer>/.well-known/openid-configuration`` (blocking)."""
    return run_sync(discovery_flow(issuer), client)


async def adiscover(issuer: str, *, client: httpx.AsyncClient | None = None) -> ProviderMetadata:
    """As :func:`discover`, on the event loop."""
    return await run_async(discovery_flow(issuer), client)


def discover_keycloak(
    base_url: str, realm: str, auth_path: str | None = "", *, client: httpx.Client | None = None
) -> ProviderMetadata:
    """Discover a Keycloak realm; with ``auth_path=None`` or ``"auto"`` try both layouts."""
    return run_sync(keycloak_discovery_flow(base_url, realm, auth_path), client)


async def adiscover_keycloak(
    base_url: str, realm: str, auth_path: str | None = "", *,
    client: httpx.AsyncClient | None = None,
) -> ProviderMetadata:
    """As :func:`discover_keycloak`, on the event loop."""
    return await run_async(keycloak_discovery_flow(base_url, realm, auth_path), client)
