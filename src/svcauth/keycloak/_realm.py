"""A Keycloak realm-import file as typed, read-only data (the input of lint and apply).

``load_realm_file(path)`` keeps ``${PLACEHOLDERS}`` as written (what the linter wants: a
literal secret is a finding); ``load_realm_file(path, env)`` resolves them from ``env``
(what apply sends to Keycloak). Placeholders follow Keycloak's import syntax: ``${NAME}`` or
``${NAME:default}``. An unresolvable placeholder raises ``ConfigurationError`` naming the
placeholder and where it sits, never a value.

Only the parts lint and apply need get a typed view (:class:`RealmClient`,
:class:`ServiceAccount`, :class:`ProtocolMapper`, client roles); ``raw`` keeps the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from .._placeholders import resolve_placeholders

DEFAULT_ACCESS_TOKEN_LIFESPAN = 300
"""Keycloak's realm default ``accessTokenLifespan`` in seconds, when the file sets none."""


def _flag(rep: Mapping[str, Any], name: str, default: bool) -> bool:
    value = rep.get(name, default)
    return value if isinstance(value, bool) else default


@dataclass(frozen=True)
class ProtocolMapper:
    """One ``protocolMappers[]`` entry of a client."""

    name: str
    """The mapper's name (unique per client)."""
    mapper_type: str
    """``protocolMapper``, e.g. ``oidc-audience-mapper``."""
    config: Mapping[str, str]
    """Its ``config`` (all values strings, as Keycloak stores them)."""

    @property
    def audience_client(self) -> str | None:
        """For an audience mapper that reaches access tokens: the client it adds to ``aud``."""
        if self.mapper_type != "oidc-audience-mapper":
            return None
        # Keycloak treats a missing access.token.claim as "true" (backwards compatibility).
        if str(self.config.get("access.token.claim", "true")).lower() != "true":
            return None
        return self.config.get("included.client.audience") or None


@dataclass(frozen=True)
class RealmClient:
    """One ``clients[]`` entry, with Keycloak's defaults for the flags that are absent."""

    client_id: str
    """``clientId``."""
    rep: Mapping[str, Any] = field(repr=False)
    """The whole representation as written (placeholders kept or resolved)."""

    @property
    def public(self) -> bool:
        """``publicClient`` (default false)."""
        return _flag(self.rep, "publicClient", False)

    @property
    def service_account(self) -> bool:
        """``serviceAccountsEnabled`` (default false)."""
        return _flag(self.rep, "serviceAccountsEnabled", False)

    @property
    def attributes(self) -> Mapping[str, Any]:
        """``attributes`` (default empty)."""
        value = self.rep.get("attributes")
        return value if isinstance(value, Mapping) else {}

    @property
    def default_client_scopes(self) -> tuple[str, ...] | None:
        """``defaultClientScopes`` when the file gives them, else None (Keycloak picks)."""
        value = self.rep.get("defaultClientScopes")
        return tuple(str(v) for v in value) if isinstance(value, list) else None

    @property
    def protocol_mappers(self) -> tuple[ProtocolMapper, ...]:
        """``protocolMappers`` (default none)."""
        value = self.rep.get("protocolMappers")
        if not isinstance(value, list):
            return ()
        return tuple(ProtocolMapper(name=str(m.get("name", "")),
                                    mapper_type=str(m.get("protocolMapper", "")),
                                    config=dict(m.get("config") or {}))
                     for m in value if isinstance(m, Mapping))

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        """``redirectUris`` (default none)."""
        value = self.rep.get("redirectUris")
        return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class ServiceAccount:
    """A ``users[]`` entry with ``serviceAccountClientId``: the roles of a client's account."""

    client_id: str
    """The client whose service account this is."""
    realm_roles: tuple[str, ...] | None
    """``realmRoles`` when given, else None (not managed)."""
    client_roles: Mapping[str, tuple[str, ...]]
    """``clientRoles``: client id -> role names (empty when absent)."""


@dataclass(frozen=True)
class RealmFile:
    """A realm-import file: the realm's name and the typed parts lint and apply use."""

    name: str
    """``realm``."""
    raw: Mapping[str, Any] = field(repr=False)
    """The whole document (placeholders kept or resolved)."""
    clients: tuple[RealmClient, ...]
    """``clients[]`` in file order."""
    client_roles: Mapping[str, Mapping[str, str | None]]
    """``roles.client``: client id -> role name -> description (None when absent)."""
    service_accounts: Mapping[str, ServiceAccount]
    """Service-account users by client id."""

    @property
    def access_token_lifespan(self) -> int:
        """``accessTokenLifespan`` in seconds (Keycloak's 300 when absent)."""
        value = self.raw.get("accessTokenLifespan")
        return value if isinstance(value, int) else DEFAULT_ACCESS_TOKEN_LIFESPAN

    def client(self, client_id: str) -> RealmClient | None:
        """The client named ``client_id``, or None."""
        return next((c for c in self.clients if c.client_id == client_id), None)


def _roles(raw: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    section = (raw.get("roles") or {}).get("client") or {}
    for client_id, roles in section.items():
        out[client_id] = {str(r["name"]): r.get("description") for r in roles
                          if isinstance(r, Mapping) and "name" in r}
    return out


def _service_accounts(raw: Mapping[str, Any]) -> dict[str, ServiceAccount]:
    out: dict[str, ServiceAccount] = {}
    for user in raw.get("users") or ():
        owner = user.get("serviceAccountClientId") if isinstance(user, Mapping) else None
        if not owner:
            continue
        realm_roles = user.get("realmRoles")
        out[owner] = ServiceAccount(
            client_id=owner,
            realm_roles=tuple(realm_roles) if isinstance(realm_roles, list) else None,
            client_roles={k: tuple(v) for k, v in (user.get("clientRoles") or {}).items()})
    return out


def realm_from_dict(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> RealmFile:
    """A :class:`RealmFile` from a parsed document; ``env`` given: placeholders resolved."""
    if env is not None:
        raw = resolve_placeholders(raw, env)
    name = raw.get("realm")
    if not isinstance(name, str) or not name:
        raise ConfigurationError("realm file: expected a top-level \"realm\" name, found none")
    clients = tuple(RealmClient(client_id=str(c["clientId"]), rep=c)
                    for c in raw.get("clients") or () if isinstance(c, Mapping) and c.get("clientId"))
    return RealmFile(name=name, raw=raw, clients=clients, client_roles=_roles(raw),
                     service_accounts=_service_accounts(raw))


def load_realm_file(path: str | Path, env: Mapping[str, str] | None = None) -> RealmFile:
    """Read a realm-import JSON file; with ``env``, resolve its placeholders from it."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"realm file {path}: expected readable JSON "
                                 f"({type(exc).__name__})") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"realm file {path}: expected a JSON object")
    return realm_from_dict(raw, env)
