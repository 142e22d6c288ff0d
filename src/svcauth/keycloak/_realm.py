"""A Keycloak realm-import file as lint and apply see it: the shared model plus the raw text.

The typed facts (flags with Keycloak's defaults and Jackson's coercions, client scopes, mappers,
service accounts) come from :mod:`svcauth.realm`, the same model the dev IdP issues tokens
from, so lint, apply and the dev IdP cannot read one file two ways. ``rep``/``raw`` keep the
document as written for what lint judges textually (literal secrets) and what apply sends.

``load_realm_file(path)`` keeps ``${PLACEHOLDERS}`` as written (what the linter wants: a
literal secret is a finding); ``load_realm_file(path, env)`` replaces them from ``env`` as
Keycloak's import does (what apply sends). Apply refuses a secret whose placeholder has no
value (Keycloak would store the text ``${NAME}`` as the secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..realm import Client, ProtocolMapper, Realm, read_realm_json, require_secrets
from ..realm import realm_from_dict as _model_from_dict

DEFAULT_ACCESS_TOKEN_LIFESPAN = 300
"""Keycloak's realm default ``accessTokenLifespan`` in seconds, when the file sets none."""

__all__ = ["DEFAULT_ACCESS_TOKEN_LIFESPAN", "ProtocolMapper", "RealmClient", "RealmFile",
           "ServiceAccount", "load_realm_file", "realm_from_dict"]


@dataclass(frozen=True)
class RealmClient:
    """One ``clients[]`` entry: the shared model's client and the representation as written."""

    client_id: str
    """``clientId``."""
    rep: Mapping[str, Any] = field(repr=False)
    """The whole representation as written (placeholders kept or resolved)."""
    model: Client = field(repr=False)
    """The client as Keycloak holds it after the import."""

    @property
    def public(self) -> bool:
        """``publicClient`` (default false)."""
        return self.model.public

    @property
    def service_account(self) -> bool:
        """``serviceAccountsEnabled`` (default false)."""
        return self.model.service_accounts

    @property
    def attributes(self) -> Mapping[str, str]:
        """``attributes`` as strings (default empty)."""
        return self.model.attributes

    @property
    def default_client_scopes(self) -> tuple[str, ...] | None:
        """``defaultClientScopes`` when the file gives them, else None (Keycloak picks)."""
        return self.model.given_default_scopes

    @property
    def protocol_mappers(self) -> tuple[ProtocolMapper, ...]:
        """``protocolMappers`` (default none)."""
        return self.model.mappers

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        """``redirectUris`` (default none)."""
        return self.model.redirect_uris


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
    """A realm-import file: the shared model and the document it came from."""

    name: str
    """``realm``."""
    raw: Mapping[str, Any] = field(repr=False)
    """The whole document (placeholders kept or resolved)."""
    clients: tuple[RealmClient, ...]
    """``clients[]`` in file order."""
    client_roles: Mapping[str, Mapping[str, str | None]]
    """``roles.client``: client id -> role name -> description (None when absent)."""
    service_accounts: Mapping[str, ServiceAccount]
    """Service-account users the file lists, by client id."""
    model: Realm = field(repr=False)
    """The realm as Keycloak holds it after the import (what the dev IdP serves)."""

    @property
    def access_token_lifespan(self) -> int:
        """``accessTokenLifespan`` in seconds (Keycloak's 300 when absent)."""
        return self.model.access_token_lifespan

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
    """A :class:`RealmFile` from a parsed document; ``env`` given: placeholders resolved
    (and a secret whose placeholder has no value refused, ``config_missing``)."""
    model = _model_from_dict(raw, env)
    if env is not None:
        require_secrets(model)
    doc = model.raw
    clients = tuple(RealmClient(client_id=str(c["clientId"]), rep=c,
                                model=model.clients[str(c["clientId"])])
                    for c in doc.get("clients") or () if isinstance(c, Mapping) and c.get("clientId"))
    return RealmFile(name=model.name, raw=doc, clients=clients, client_roles=_roles(doc),
                     service_accounts=_service_accounts(doc), model=model)


def load_realm_file(path: str | Path, env: Mapping[str, str] | None = None) -> RealmFile:
    """Read a realm-import JSON file; with ``env``, resolve its placeholders from it."""
    return realm_from_dict(read_realm_json(path), env)
