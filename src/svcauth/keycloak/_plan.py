"""The pure half of ``svcauth keycloak apply``: desired state vs current state -> changes.

Both states have one shape, :class:`RealmState`, so the planner never knows where they came
from: ``desired_state(realm_file)`` builds one from a realm file (placeholders resolved), and
``svcauth.keycloak._apply`` reads the other from Keycloak's Admin REST API.

What is managed: the realm's top-level settings given in the file (scalars such as
``enabled``, ``displayName``, ``accessTokenLifespan``); for every client in the file its
fields and attributes as written, its secret, its ``defaultClientScopes`` (when given), its
protocol mappers and client roles, and its service account's role mappings (realm roles when
the file lists them; client roles on the file's clients). The file is the truth for what it
names: a mapper, client role or mapping the file does not have is removed; clients the file
does not name, regular users, realm roles, groups and key providers are left alone.

Each change prints as one line: ``+`` create, ``-`` remove, ``~`` change (old -> new);
secrets print as ``***``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._realm import RealmFile

UNMANAGED_CLIENT_KEYS = frozenset({"id", "clientId", "secret", "attributes", "protocolMappers",
                                   "defaultClientScopes", "optionalClientScopes", "access",
                                   "authorizationSettings"})
"""Client keys compared elsewhere or never (the rest are compared as written)."""
REALM_SECTION_KEYS = frozenset({"id", "realm", "roles", "clients", "users", "clientScopes",
                                "components", "groups", "defaultRoles", "defaultRole",
                                "identityProviders", "authenticationFlows", "requiredActions",
                                "scopeMappings", "clientScopeMappings", "defaultDefaultClientScopes",
                                "defaultOptionalClientScopes"})
"""Top-level keys that are sections, not settings (only scalars are managed)."""


@dataclass(frozen=True)
class ClientState:
    """One client as a realm file wants it, or as Keycloak has it."""

    fields: Mapping[str, Any]
    """Representation fields other than those in ``UNMANAGED_CLIENT_KEYS``."""
    attributes: Mapping[str, str]
    """``attributes``."""
    secret: str | None = field(default=None, repr=False)
    """The client secret (None: not managed / public client)."""
    default_scopes: frozenset[str] | None = None
    """Default client scope names (None: not managed)."""
    mappers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Protocol mappers by name: ``{"protocolMapper": ..., "config": {...}}``."""
    roles: Mapping[str, str | None] = field(default_factory=dict)
    """Client roles: name -> description (None: not managed)."""
    account_realm_roles: frozenset[str] | None = None
    """The service account's realm roles (None: not managed)."""
    account_client_roles: frozenset[str] | None = None
    """The service account's client roles as ``"<client>:<role>"`` (None: no service account)."""


@dataclass(frozen=True)
class RealmState:
    """A realm's managed settings and clients."""

    name: str
    """The realm name."""
    settings: Mapping[str, Any]
    """Top-level scalar settings."""
    clients: Mapping[str, ClientState]
    """Clients by client id."""


@dataclass(frozen=True)
class Change:
    """One step of a plan, printable as one diff line."""

    op: str
    """``+`` create, ``-`` remove, ``~`` change."""
    kind: str
    """``realm``, ``client``, ``client-field``, ``client-secret``, ``default-scope``, ``role``,
    ``mapper``, ``account-role``."""
    target: str
    """The object: realm name, client id, or ``<client>`` for the sub-objects."""
    name: str = ""
    """Field, scope, role or mapper name (empty for a whole realm or client)."""
    old: Any = field(default=None, repr=False)
    """Current value (``~`` and ``-``)."""
    new: Any = field(default=None, repr=False)
    """Desired value (``+`` and ``~``)."""
    secret: bool = False
    """Print values as ``***``."""
    key: str = ""
    """For ``~`` on a role or mapper: the changed key (``description``, ``config.<name>``)."""

    def line(self) -> str:
        """The diff line: ``~ client shop-api standardFlowEnabled: false -> true``."""
        head = {"realm": "realm", "client": "client", "client-field": "client",
                "client-secret": "client", "default-scope": "client", "role": "role",
                "mapper": "mapper", "account-role": "service-account"}[self.kind]
        subject = f"{self.op} {head} {self.target}"
        if self.kind == "default-scope":
            return f"{subject} defaultClientScopes {self.name}"
        if self.kind == "account-role":
            return f"{subject} role {self.name}"
        if self.kind in ("role", "mapper") and self.op != "~":
            return f"{subject} {self.name}"
        if self.op == "~":
            shown = ("***", "***") if self.secret else (_show(self.old), _show(self.new))
            what = f"{self.name} {self.key}" if self.key else self.name
            return f"{subject} {what}: {shown[0]} -> {shown[1]}"
        return subject


def _show(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value, sort_keys=True)


def _client_state(realm: RealmFile, client_id: str) -> ClientState:
    client = realm.client(client_id)
    assert client is not None
    rep = client.rep
    secret = rep.get("secret") if not client.public else None
    account = realm.service_accounts.get(client_id) if client.service_account else None
    mappers = {m.name: {"protocolMapper": m.mapper_type, "config": dict(m.config)}
               for m in client.protocol_mappers}
    scopes = client.default_client_scopes
    return ClientState(
        fields={k: v for k, v in rep.items() if k not in UNMANAGED_CLIENT_KEYS},
        attributes={k: str(v) for k, v in client.attributes.items()},
        secret=secret if isinstance(secret, str) else None,
        default_scopes=frozenset(scopes) if scopes is not None else None,
        mappers=mappers,
        roles=dict(realm.client_roles.get(client_id, {})),
        account_realm_roles=(frozenset(account.realm_roles)
                             if account and account.realm_roles is not None else None),
        account_client_roles=(frozenset(f"{c}:{r}" for c, rs in account.client_roles.items()
                                        for r in rs) if account else
                              frozenset() if client.service_account else None),
    )


def desired_state(realm: RealmFile) -> RealmState:
    """The state a realm file (placeholders resolved) asks for."""
    settings = {k: v for k, v in realm.raw.items()
                if k not in REALM_SECTION_KEYS and not isinstance(v, (dict, list))}
    return RealmState(name=realm.name, settings=settings,
                      clients={c.client_id: _client_state(realm, c.client_id)
                               for c in realm.clients})


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, list) and isinstance(have, list):
        # Keycloak returns URI and scope lists in its own order.
        return sorted(map(json.dumps, want)) == sorted(map(json.dumps, have))
    return bool(want == have)


def _client_changes(cid: str, want: ClientState, have: ClientState | None) -> list[Change]:
    out: list[Change] = []
    if have is None:
        out.append(Change("+", "client", cid, new=dict(want.fields)))
    else:
        for key, value in want.fields.items():
            if not _same(value, have.fields.get(key)):
                out.append(Change("~", "client-field", cid, key, have.fields.get(key), value))
        for key, value in want.attributes.items():
            if value != have.attributes.get(key):
                out.append(Change("~", "client-field", cid, f"attributes.{key}",
                                  have.attributes.get(key), value))
        if want.secret is not None and want.secret != have.secret:
            out.append(Change("~", "client-secret", cid, "secret", have.secret, want.secret,
                              secret=True))
        if want.default_scopes is not None:
            current = have.default_scopes or frozenset()
            out += [Change("+", "default-scope", cid, s) for s in sorted(want.default_scopes - current)]
            out += [Change("-", "default-scope", cid, s) for s in sorted(current - want.default_scopes)]
        for name, mapper in want.mappers.items():
            old = have.mappers.get(name)
            if old is None:
                out.append(Change("+", "mapper", cid, name, new=dict(mapper)))
            else:
                for key in sorted(set(mapper) | set(old)):
                    if key != "config" and mapper.get(key) != old.get(key):
                        out.append(Change("~", "mapper", cid, name, old.get(key),
                                          mapper.get(key), key=key))
                want_cfg, old_cfg = mapper.get("config", {}), old.get("config", {})
                for key in sorted(want_cfg):
                    if str(want_cfg[key]) != old_cfg.get(key):
                        out.append(Change("~", "mapper", cid, name, old_cfg.get(key),
                                          want_cfg[key], key=f"config.{key}"))
        out += [Change("-", "mapper", cid, n) for n in sorted(set(have.mappers) - set(want.mappers))]
    return out


def _role_changes(cid: str, want: ClientState, have: ClientState | None) -> list[Change]:
    current = have.roles if have else {}
    out = [Change("+", "role", cid, n, new=d) for n, d in sorted(want.roles.items(), key=_key)
           if n not in current]
    out += [Change("~", "role", cid, n, current[n], d, key="description")
            for n, d in sorted(want.roles.items(), key=_key)
            if n in current and d is not None and d != current[n]]
    out += [Change("-", "role", cid, n) for n in sorted(set(current) - set(want.roles))]
    return out


def _key(item: tuple[str, str | None]) -> str:
    return item[0]


def _account_changes(cid: str, want: ClientState, have: ClientState | None,
                     managed_clients: frozenset[str]) -> list[Change]:
    if want.account_client_roles is None:
        return []
    out: list[Change] = []
    current = (have.account_client_roles if have else None) or frozenset()
    # Only mappings on the file's clients are managed; realm-management and friends stay.
    current = frozenset(r for r in current if r.split(":", 1)[0] in managed_clients)
    out += [Change("+", "account-role", cid, r) for r in sorted(want.account_client_roles - current)]
    out += [Change("-", "account-role", cid, r) for r in sorted(current - want.account_client_roles)]
    if want.account_realm_roles is not None:
        have_realm = (have.account_realm_roles if have else None) or frozenset()
        out += [Change("+", "account-role", cid, f"realm:{r}")
                for r in sorted(want.account_realm_roles - have_realm)]
        out += [Change("-", "account-role", cid, f"realm:{r}")
                for r in sorted(have_realm - want.account_realm_roles)]
    return out


def plan(desired: RealmState, current: RealmState | None) -> list[Change]:
    """The changes that turn ``current`` (None: no such realm) into ``desired``, in the order
    they must run: realm, clients, roles (before mappings use them), service-account roles."""
    changes: list[Change] = []
    if current is None:
        changes.append(Change("+", "realm", desired.name, new=dict(desired.settings)))
        have_settings: Mapping[str, Any] = desired.settings
        have_clients: Mapping[str, ClientState] = {}
    else:
        have_settings, have_clients = current.settings, current.clients
    for key, value in desired.settings.items():
        if key not in ("realm", "id") and not _same(value, have_settings.get(key)):
            changes.append(Change("~", "realm", desired.name, key, have_settings.get(key), value))
    for cid, want in desired.clients.items():
        changes += _client_changes(cid, want, have_clients.get(cid))
    for cid, want in desired.clients.items():
        changes += _role_changes(cid, want, have_clients.get(cid))
    managed = frozenset(desired.clients)
    for cid, want in desired.clients.items():
        changes += _account_changes(cid, want, have_clients.get(cid), managed)
    return changes
