"""What in a realm file the dev IdP does not emulate, named item by item.

``unsupported(realm)`` is pure; the provider logs one warning line per item at start-up and
``svcauth keycloak lint --devidp`` prints the same lines, so nothing is ignored silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..realm import OIDC, Realm
from ._mappers import MAPPERS

AUTHENTICATORS = ("client-secret", "client-jwt")
"""Client authenticator types the dev IdP checks as Keycloak does."""
_ENV_NAME = re.compile(r"\$\{(env\.)?[A-Z][A-Z0-9_]*(:[^}]*)?\}")
_SECRET_PATH = re.compile(r"(\.secret$|\.credentials\[\d+\]\.value$)")
_IGNORED_CLIENT_ATTRIBUTES = {
    "access.token.header.type.rfc9068": "RFC 9068 access-token header (typ at+jwt)",
}


@dataclass(frozen=True, order=True)
class Notice:
    """One thing the dev IdP will not do as Keycloak would."""

    subject: str
    """``client <id>``, ``scope <name>``, ``user <name>`` or ``realm``."""
    field: str
    """Where in the file."""
    message: str
    """What is not emulated and what the dev IdP does instead."""

    def line(self) -> str:
        """``devidp does not emulate: client x: field: message``."""
        return f"devidp does not emulate: {self.subject}: {self.field}: {self.message}"


def _placeholders(realm: Realm) -> list[Notice]:
    out = []
    for where, name in realm.unresolved:
        if _SECRET_PATH.search(where) or _ENV_NAME.fullmatch(name):
            out.append(Notice("realm", where, f"placeholder {name} has no value; kept as "
                              f"literal text, as Keycloak's import keeps it"))
    return out


def _mappers(realm: Realm) -> list[Notice]:
    out = []
    oidc_clients = [c for c in realm.clients.values() if c.protocol == OIDC]
    used_scopes = {s for c in oidc_clients for s in (*c.default_scopes, *c.optional_scopes)}
    for client in oidc_clients:
        for m in client.mappers:
            if m.mapper_type not in MAPPERS:
                out.append(Notice(f"client {client.client_id}", f"protocolMappers[{m.name}]",
                                  f"mapper type {m.mapper_type!r}: its claim is left out"))
    for name in sorted(used_scopes):
        for m in realm.client_scopes[name].mappers:
            if m.mapper_type not in MAPPERS:
                out.append(Notice(f"scope {name}", f"protocolMappers[{m.name}]",
                                  f"mapper type {m.mapper_type!r}: its claim is left out"))
    return out


def _clients(realm: Realm) -> list[Notice]:
    out = []
    for client in realm.clients.values():
        subject = f"client {client.client_id}"
        if client.protocol != OIDC:
            out.append(Notice(subject, "protocol",
                              f"{client.protocol!r} clients: the dev IdP serves OIDC only"))
            continue
        if client.enabled and not client.public and client.authenticator not in AUTHENTICATORS:
            out.append(Notice(subject, "clientAuthenticatorType",
                              f"{client.authenticator!r}: every authentication is refused "
                              f"(supported: {', '.join(AUTHENTICATORS)})"))
        for key, what in _IGNORED_CLIENT_ATTRIBUTES.items():
            if client.attributes.get(key, "").lower() == "true":
                out.append(Notice(subject, f"attributes.{key}", f"{what}: ignored"))
    return out


def _realm(realm: Realm) -> list[Notice]:
    raw = realm.raw
    out = []
    if raw.get("organizationsEnabled") is True:
        out.append(Notice("realm", "organizationsEnabled",
                          "organizations: the organization claim is never added"))
    for key, what in (("identityProviders", "identity brokering"),
                      ("clientPolicies", "client policies"),
                      ("clientProfiles", "client profiles")):
        value = raw.get(key)
        items = value.get("policies" if key == "clientPolicies" else "profiles") \
            if isinstance(value, dict) else value
        if items:
            out.append(Notice("realm", key, f"{what}: ignored"))
    components = raw.get("components")
    if isinstance(components, dict) and components.get(
            "org.keycloak.userprofile.UserProfileProvider"):
        out.append(Notice("realm", "components", "a user profile of its own: every user may "
                          "use the password grant (the default profile's checks are off)"))
    if isinstance(components, dict) and components.get(
            "org.keycloak.storage.UserStorageProvider"):
        out.append(Notice("realm", "components", "user federation (LDAP/Kerberos): only the "
                          "file's users exist"))
    if raw.get("clientTemplates"):
        out.append(Notice("realm", "clientTemplates", "deprecated client templates: not turned "
                          "into client scopes as Keycloak's import turns them"))
    for client in raw.get("clients") or ():
        if isinstance(client, dict) and client.get("claims") and \
                client.get("protocolMappers") is None:
            out.append(Notice(f"client {client.get('clientId')}", "claims",
                              "deprecated claims mask: not turned into protocol mappers as "
                              "Keycloak's import turns it"))
    for user in raw.get("users") or ():
        if isinstance(user, dict) and user.get("requiredActions"):
            out.append(Notice(f"user {user.get('username')}", "requiredActions",
                              "required actions: the password grant does not refuse the user"))
    return out


def unsupported(realm: Realm) -> list[Notice]:
    """Everything in ``realm`` the dev IdP does not emulate, sorted."""
    return sorted([*_placeholders(realm), *_mappers(realm), *_clients(realm), *_realm(realm)])
