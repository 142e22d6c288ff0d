"""Keycloak's conversions of pre-Keycloak-12 representation fields, done before the import.

Old exports (and hand-written files copied from them) still carry the names Keycloak used
before "applications" became "clients". Keycloak 26.7 converts them at import
(``DefaultExportImportManager.convertDeprecatedApplications`` and
``convertDeprecatedDefaultRoles``); the dev IdP does the same, so a file written for
Keycloak 10 gives the same tokens on both:

- ``applications`` and ``oauthClients`` are appended to ``clients``, ``name`` becoming
  ``clientId`` (and the name dropped); an ``oauthClients`` entry also gets
  ``consentRequired: true`` and ``fullScopeAllowed: false``;
- ``applicationScopeMappings`` becomes ``clientScopeMappings`` when that is absent;
  ``roles.application`` becomes ``roles.client``, a role's ``composites.application`` its
  ``composites.client`` and a user's ``applicationRoles`` its ``clientRoles``, each only
  when the new name is absent;
- without a ``defaultRole`` object, the realm's ``defaultRoles`` list and each client's
  ``defaultRoles`` become composites of ``default-roles-<realm>`` (:func:`legacy_default_roles`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._model import RoleRef
from ._values import string_list


def _moved(rep: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    out = dict(rep)
    if out.get(old) is not None and out.get(new) is None:
        out[new] = out[old]
    return out


def _role(rep: Any) -> Any:
    if isinstance(rep, Mapping) and isinstance(rep.get("composites"), Mapping):
        return {**rep, "composites": _moved(rep["composites"], "application", "client")}
    return rep


def convert_deprecated(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """``raw`` with the deprecated application names converted as Keycloak converts them
    (the same object when it holds none of them)."""
    legacy = ("applications", "oauthClients", "applicationScopeMappings")
    roles = raw.get("roles")
    users = raw.get("users")
    if not any(raw.get(k) is not None for k in legacy) and not (
            isinstance(roles, Mapping) and roles.get("application") is not None) and not any(
            isinstance(u, Mapping) and u.get("applicationRoles") is not None
            for u in (users if isinstance(users, list) else ())):
        return raw
    out = dict(raw)
    if raw.get("applications") is not None or raw.get("oauthClients") is not None:
        clients = list(raw.get("clients") or ())
        for key in ("applications", "oauthClients"):
            for app in raw.get(key) or ():
                if not isinstance(app, Mapping):
                    continue
                client = {k: v for k, v in app.items() if k != "name"}
                client["clientId"] = app.get("name")
                if key == "oauthClients":
                    client.update(consentRequired=True, fullScopeAllowed=False)
                clients.append(client)
        out["clients"] = clients
    out = _moved(out, "applicationScopeMappings", "clientScopeMappings")
    if isinstance(roles, Mapping):
        moved = _moved(roles, "application", "client")
        moved["realm"] = [_role(r) for r in moved.get("realm") or ()]
        if isinstance(moved.get("client"), Mapping):
            moved["client"] = {c: [_role(r) for r in rs or ()]
                               for c, rs in moved["client"].items()}
        out["roles"] = moved
    if isinstance(users, list):
        out["users"] = [_moved(u, "applicationRoles", "clientRoles") if isinstance(u, Mapping)
                        else u for u in users]
    return out


def legacy_default_roles(raw: Mapping[str, Any]) -> tuple[RoleRef, ...]:
    """The roles Keycloak adds to ``default-roles-<realm>`` from the deprecated realm and
    client ``defaultRoles`` lists (none when the file has a ``defaultRole`` object)."""
    if raw.get("defaultRole") is not None:
        return ()
    out: list[RoleRef] = [(None, r.strip()) for r in string_list(raw.get("defaultRoles"))]
    for client in raw.get("clients") or ():
        if isinstance(client, Mapping) and client.get("clientId"):
            out += [(str(client["clientId"]), r.strip())
                    for r in string_list(client.get("defaultRoles"))]
    return tuple(dict.fromkeys(out))


MIGRATED_SCOPES: tuple[tuple[tuple[int, int, int], str], ...] = (
    ((18, 0, 0), "acr"), ((25, 0, 0), "basic"))
"""Client scopes Keycloak's ``migrateImport`` adds to a file exported by an older version:
``MigrateTo18_0_0`` the ``acr`` scope, ``MigrateTo25_0_0`` the ``basic`` scope, each created
when the realm has no scope of that name and then added as a default scope of the realm and
of every existing OpenID Connect client (``addClientScopeToAllClients``)."""


def exported_by(raw: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """The ``keycloakVersion`` a file was exported by (``"8.0.1"`` -> ``(8, 0, 1)``), None
    without one; a suffix (``-SNAPSHOT``) and missing parts are ignored as zeros."""
    text = raw.get("keycloakVersion")
    if not isinstance(text, str):
        return None
    parts: list[int] = []
    for piece in text.split("-", 1)[0].split(".")[:3]:
        if not piece.isdigit():
            break
        parts.append(int(piece))
    if not parts:
        return None
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2])


def migrated_scopes(raw: Mapping[str, Any], scope_names: Any) -> tuple[str, ...]:
    """The names of :data:`MIGRATED_SCOPES` Keycloak adds when it imports ``raw`` (whose
    realm holds the scopes ``scope_names``)."""
    version = exported_by(raw)
    if version is None:
        return ()
    return tuple(name for since, name in MIGRATED_SCOPES
                 if version < since and name not in scope_names)
