"""Realm-import JSON -> :class:`~svcauth.realm.Realm`, with Keycloak's import rules.

- Placeholders: Keycloak's ``StringPropertyReplacer`` (unresolvable ones stay as written).
- Booleans and numbers of representation fields: Jackson's coercions (:mod:`._values`);
  a value Jackson refuses refuses the file here too (``config_invalid``).
- ``clientScopes`` present: exactly those scopes; absent: Keycloak's built-ins. The realm's
  ``defaultDefaultClientScopes``/``defaultOptionalClientScopes`` when given, else the
  built-in lists (none when the file defines its own scopes).
- A client with ``defaultClientScopes`` or ``optionalClientScopes`` gets exactly the listed
  scopes that exist (both lists replaced); without either it gets the realm's defaults of its
  protocol. ``service_account`` is added only to a client whose service-account user
  Keycloak creates itself (the file lists none), as ``enableServiceAccount`` does.
- Deprecated names (``applications``, ``applicationRoles``, ``defaultRoles``...) converted
  first, as Keycloak converts them (:mod:`._legacy`).
- A file with an older ``keycloakVersion`` gets the ``acr``/``basic`` scopes Keycloak's
  import migrations add (:data:`._legacy.MIGRATED_SCOPES`).
- Users: usernames and e-mails lower-cased; the service-account user created (with
  ``default-roles-<realm>``) for a client whose file lists none.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .._errors import ConfigurationError
from .._placeholders import Missing, resolve_placeholders
from ._builtin import (
    ACCOUNT_CLIENT,
    BUILTIN_SCOPES,
    DEFAULT_SCOPES,
    OPTIONAL_SCOPES,
    SERVICE_ACCOUNT_SCOPE,
    default_roles,
)
from ._legacy import convert_deprecated, legacy_default_roles, migrated_scopes
from ._model import OIDC, Client, ClientScope, Group, ProtocolMapper, Realm, RoleRef, User
from ._values import rep_bool, rep_int, rep_str, string_list, string_map


def _mappers(value: Any) -> tuple[ProtocolMapper, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(ProtocolMapper(name=str(m.get("name", "")),
                                mapper_type=str(m.get("protocolMapper", "")),
                                config=string_map(m.get("config")),
                                protocol=rep_str(m, "protocol", OIDC) or OIDC)
                 for m in value if isinstance(m, Mapping))


def _multi_map(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): string_list(v) for k, v in value.items()}


def _client_roles(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(c): string_list(r) for c, r in value.items()}


def _role_scopes(raw: Mapping[str, Any]) -> dict[str, list[RoleRef]]:
    """``scopeMappings`` and ``clientScopeMappings`` by the client or scope they name
    (keys ``client:<id>`` and ``scope:<name>``)."""
    out: dict[str, list[RoleRef]] = {}

    def add(entry: Any, owner: str | None) -> None:
        if not isinstance(entry, Mapping):
            return
        key = (f"client:{entry['client']}" if entry.get("client") else
               f"scope:{entry['clientScope']}" if entry.get("clientScope") else None)
        if key:
            out.setdefault(key, []).extend((owner, r) for r in string_list(entry.get("roles")))

    for entry in raw.get("scopeMappings") or ():
        add(entry, None)
    for owner, entries in (raw.get("clientScopeMappings") or {}).items():
        for entry in entries or ():
            add(entry, str(owner))
    return out


def _scopes(raw: Mapping[str, Any], role_scopes: Mapping[str, list[RoleRef]]
            ) -> tuple[dict[str, ClientScope], tuple[str, ...], tuple[str, ...]]:
    given = raw.get("clientScopes")
    if isinstance(given, list):
        scopes = {}
        for rep in given:
            if isinstance(rep, Mapping) and rep.get("name"):
                name = str(rep["name"])
                scopes[name] = ClientScope(
                    name=name, protocol=rep_str(rep, "protocol", OIDC) or OIDC,
                    attributes=string_map(rep.get("attributes")),
                    mappers=_mappers(rep.get("protocolMappers")),
                    role_scope=tuple(role_scopes.get(f"scope:{name}", ())))
        defaults: tuple[str, ...] = ()
        optionals: tuple[str, ...] = ()
    else:
        scopes = {name: ClientScope(s.name, s.protocol, s.attributes, s.mappers,
                                    (*s.role_scope, *role_scopes.get(f"scope:{name}", ())),
                                    builtin=True)
                  for name, s in BUILTIN_SCOPES.items()}
        defaults, optionals = DEFAULT_SCOPES, OPTIONAL_SCOPES
    if isinstance(raw.get("defaultDefaultClientScopes"), list):
        defaults = string_list(raw["defaultDefaultClientScopes"])
    if isinstance(raw.get("defaultOptionalClientScopes"), list):
        optionals = string_list(raw["defaultOptionalClientScopes"])
    return (scopes, tuple(s for s in defaults if s in scopes),
            tuple(s for s in optionals if s in scopes and s not in defaults))


def _jwks(rep: Mapping[str, Any], attrs: Mapping[str, str]) -> tuple[Mapping[str, Any], ...]:
    if attrs.get("use.jwks.string") != "true" or not attrs.get("jwks.string"):
        return ()
    try:
        keys = json.loads(attrs["jwks.string"]).get("keys", [])
    except (ValueError, AttributeError) as exc:
        raise ConfigurationError(
            f"client {rep.get('clientId')!r}: jwks.string: expected a JWKS JSON object",
            code="config_invalid") from exc
    return tuple(k for k in keys if isinstance(k, dict))


def _client(rep: Mapping[str, Any], where: str, scopes: Mapping[str, ClientScope],
            realm_defaults: tuple[str, ...], realm_optionals: tuple[str, ...],
            role_scopes: Mapping[str, list[RoleRef]]) -> Client:
    client_id = str(rep["clientId"])
    attrs = string_map(rep.get("attributes"))
    protocol = rep_str(rep, "protocol", OIDC) or OIDC
    service_accounts = rep_bool(rep, "serviceAccountsEnabled", False, where=where)
    given_default = rep.get("defaultClientScopes")
    given_optional = rep.get("optionalClientScopes")
    if isinstance(given_default, list) or isinstance(given_optional, list):
        defaults, optionals = string_list(given_default), string_list(given_optional)
    else:
        defaults, optionals = realm_defaults, realm_optionals

    def usable(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for n in names
                                   if n in scopes and scopes[n].protocol == protocol))

    default_scopes = usable(defaults)
    return Client(
        client_id=client_id,
        enabled=rep_bool(rep, "enabled", True, where=where),
        public=rep_bool(rep, "publicClient", False, where=where),
        bearer_only=rep_bool(rep, "bearerOnly", False, where=where),
        authenticator=rep_str(rep, "clientAuthenticatorType", "client-secret") or "client-secret",
        secret=rep_str(rep, "secret"),
        service_accounts=service_accounts,
        direct_access=rep_bool(rep, "directAccessGrantsEnabled", False, where=where),
        standard_flow=rep_bool(rep, "standardFlowEnabled", True, where=where),
        implicit_flow=rep_bool(rep, "implicitFlowEnabled", False, where=where),
        web_origins=string_list(rep.get("webOrigins")),
        redirect_uris=string_list(rep.get("redirectUris")),
        attributes=attrs,
        jwks=_jwks(rep, attrs),
        protocol=protocol,
        full_scope_allowed=rep_bool(rep, "fullScopeAllowed", True, where=where),
        default_scopes=default_scopes,
        optional_scopes=tuple(s for s in usable(optionals) if s not in default_scopes),
        mappers=_mappers(rep.get("protocolMappers")),
        role_scope=tuple(role_scopes.get(f"client:{client_id}", ())),
        given_default_scopes=string_list(given_default) if isinstance(given_default, list)
        else None,
    )


def _groups(reps: Any, parent: str = "") -> dict[str, Group]:
    out: dict[str, Group] = {}
    for rep in reps if isinstance(reps, list) else ():
        if not isinstance(rep, Mapping) or not rep.get("name"):
            continue
        path = f"{parent}/{rep['name']}"
        out[path] = Group(path=path, name=str(rep["name"]),
                          attributes=_multi_map(rep.get("attributes")),
                          realm_roles=string_list(rep.get("realmRoles")),
                          client_roles=_client_roles(rep.get("clientRoles")))
        out.update(_groups(rep.get("subGroups"), path))
    return out


def _user(realm: str, rep: Mapping[str, Any], where: str) -> User:
    username = str(rep["username"]).lower()  # Keycloak stores usernames lower-cased
    password = None
    for cred in rep.get("credentials") or ():
        if isinstance(cred, Mapping) and cred.get("type") == "password" and "value" in cred:
            password = str(cred["value"])
    email = rep_str(rep, "email")
    return User(
        id=rep_str(rep, "id") or str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                f"svcauth-devidp:{realm}:{username}")),
        username=username,
        enabled=rep_bool(rep, "enabled", False, where=where),  # absent: disabled
        email=email.lower() if email else None,
        email_verified=rep_bool(rep, "emailVerified", False, where=where),
        first_name=rep_str(rep, "firstName"),
        last_name=rep_str(rep, "lastName"),
        password=password,
        realm_roles=string_list(rep.get("realmRoles")),
        client_roles=_client_roles(rep.get("clientRoles")),
        service_account_client=rep_str(rep, "serviceAccountClientId"),
        attributes=_multi_map(rep.get("attributes")),
        groups=tuple(g if g.startswith("/") else f"/{g}" for g in string_list(rep.get("groups"))),
    )


def _composites(realm: str, roles: Any) -> dict[RoleRef, tuple[RoleRef, ...]]:
    out = default_roles(realm)
    del out[(None, f"default-roles-{realm}")]  # see _default_role
    if not isinstance(roles, Mapping):
        return out
    entries: list[tuple[str | None, Any]] = [(None, r) for r in roles.get("realm") or ()]
    entries += [(str(c), r) for c, rs in (roles.get("client") or {}).items() for r in rs or ()]
    for owner, rep in entries:
        if not isinstance(rep, Mapping) or "name" not in rep:
            continue
        comp = rep.get("composites") or {}
        if not comp and (owner, str(rep["name"])) in out:
            continue  # a built-in listed without its composites keeps Keycloak's
        parts: list[RoleRef] = [(None, r) for r in string_list(comp.get("realm"))]
        parts += [(str(c), r) for c, rs in (comp.get("client") or {}).items()
                  for r in string_list(rs)]
        if parts:
            out[(owner, str(rep["name"]))] = tuple(parts)
    return out


def _default_role(composites: dict[RoleRef, tuple[RoleRef, ...]], realm: str,
                  raw: Mapping[str, Any]) -> dict[RoleRef, tuple[RoleRef, ...]]:
    """``default-roles-<realm>`` as Keycloak's import leaves it: what ``RealmManager`` adds
    while it creates what the file lacks (``offline_access`` and ``uma_authorization`` when
    the file defines no such realm role, the account roles when it has no ``account``
    client), then the composites the file gives the role, then the deprecated
    ``defaultRoles`` lists."""
    key: RoleRef = (None, f"default-roles-{realm}")
    built_in = dict(default_roles(realm))[key]
    listed = {str(r.get("name")) for r in (raw.get("roles") or {}).get("realm") or ()
              if isinstance(r, Mapping)} if isinstance(raw.get("roles"), Mapping) else set()
    has_account = any(isinstance(c, Mapping) and c.get("clientId") == ACCOUNT_CLIENT
                      for c in raw.get("clients") or ())
    added = [r for r in built_in if (r[0] is None and r[1] not in listed)
             or (r[0] == ACCOUNT_CLIENT and not has_account)]
    given = composites.get(key, ())
    composites[key] = tuple(dict.fromkeys((*added, *given, *legacy_default_roles(raw))))
    return composites


def realm_from_dict(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Realm:
    """A :class:`Realm` from realm-import JSON; with ``env``, placeholders replaced from it."""
    missing: Missing = []
    raw = resolve_placeholders(dict(data), env, missing=missing) if env is not None else data
    raw = convert_deprecated(raw)
    name = raw.get("realm")
    if not isinstance(name, str) or not name:
        raise ConfigurationError("realm file: expected a non-empty 'realm' name",
                                 code="config_invalid")
    role_scopes = _role_scopes(raw)
    scopes, realm_defaults, realm_optionals = _scopes(raw, role_scopes)
    clients: dict[str, Client] = {}
    for i, rep in enumerate(raw.get("clients") or ()):
        if isinstance(rep, Mapping) and rep.get("clientId"):
            client = _client(rep, f"clients[{i}]", scopes, realm_defaults, realm_optionals,
                             role_scopes)
            clients[client.client_id] = client
    clients.setdefault(ACCOUNT_CLIENT, Client(client_id=ACCOUNT_CLIENT, public=True))
    for added in migrated_scopes(raw, scopes):  # an older export: Keycloak's migrateImport
        scopes[added] = BUILTIN_SCOPES[added]
        realm_defaults = (*realm_defaults, added)
        for client in list(clients.values()):
            if client.protocol == OIDC and added not in client.default_scopes:
                clients[client.client_id] = replace(
                    client, default_scopes=(*client.default_scopes, added),
                    optional_scopes=tuple(s for s in client.optional_scopes if s != added))
    users: dict[str, User] = {}
    for i, rep in enumerate(raw.get("users") or ()):
        if isinstance(rep, Mapping) and rep.get("username"):
            user = _user(name, rep, f"users[{i}]")
            users[user.username] = user
    # Keycloak creates the service-account user itself when the file does not list one
    # (enableServiceAccount), and then gives the client the service_account scope.
    for client in list(clients.values()):
        if client.service_accounts and not any(
                u.service_account_client == client.client_id for u in users.values()):
            sa = _user(name, {"username": f"service-account-{client.client_id}",
                              "serviceAccountClientId": client.client_id, "enabled": True,
                              "realmRoles": [f"default-roles-{name.lower()}"]}, "users")
            users[sa.username] = sa
            scope = scopes.get(SERVICE_ACCOUNT_SCOPE)
            if scope is not None and scope.protocol == client.protocol and \
                    SERVICE_ACCOUNT_SCOPE not in client.default_scopes:
                clients[client.client_id] = replace(
                    client, default_scopes=(*client.default_scopes, SERVICE_ACCOUNT_SCOPE),
                    optional_scopes=tuple(s for s in client.optional_scopes
                                          if s != SERVICE_ACCOUNT_SCOPE))
    return Realm(
        name=name,
        access_token_lifespan=rep_int(raw, "accessTokenLifespan", 300, where="realm") or 300,
        clients=clients,
        users=users,
        composites=_default_role(_composites(name.lower(), raw.get("roles")), name.lower(), raw),
        sso_session_idle=rep_int(raw, "ssoSessionIdleTimeout", 1800, where="realm") or 1800,
        browser=_browser_settings(raw),
        client_scopes=scopes,
        default_scopes=realm_defaults,
        optional_scopes=realm_optionals,
        groups=_groups(raw.get("groups")),
        unresolved=tuple(missing),
        raw=raw,
    )


BROWSER_KEYS = ("accessCodeLifespan", "accessCodeLifespanLogin", "ssoSessionMaxLifespan",
                "refreshTokenMaxReuse")
"""Integer realm keys the browser flow reads (``revokeRefreshToken``, a boolean, besides)."""


def _browser_settings(raw: Mapping[str, Any]) -> dict[str, int]:
    found = {k: rep_int(raw, k, 0, where="realm") for k in BROWSER_KEYS if raw.get(k) is not None}
    if raw.get("revokeRefreshToken") is not None:
        found["revokeRefreshToken"] = int(rep_bool(raw, "revokeRefreshToken", False,
                                                   where="realm"))
    return found
