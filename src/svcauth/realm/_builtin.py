"""What Keycloak 26.7 creates in a realm that the import file does not list.

- The built-in client scopes with their protocol mappers, created **only when the file has no
  ``clientScopes`` array** (a file that lists its own scopes gets exactly those).
- The realm's default (``acr basic email profile roles web-origins``) and optional
  (``address phone offline_access microprofile-jwt organization``) client scopes.
- The ``service_account`` scope, given to clients with a service account.
- The ``account`` client and its roles, and the composite ``default-roles-<realm>``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._model import ClientScope, ProtocolMapper, RoleRef

ACCOUNT_CLIENT = "account"
"""The built-in client whose roles ``default-roles-<realm>`` holds."""
ACCOUNT_ROLES = ("manage-account", "manage-account-links", "view-profile", "view-applications",
                 "view-consent", "manage-consent", "delete-account", "view-groups")
"""The ``account`` client's built-in roles."""
SERVICE_ACCOUNT_SCOPE = "service_account"
"""The scope Keycloak gives clients with a service account (``client_id``, ``clientHost``...)."""
DEFAULT_SCOPES = ("acr", "basic", "email", "profile", "roles", "web-origins")
"""Realm default (default) client scopes of a new realm (OIDC)."""
OPTIONAL_SCOPES = ("address", "phone", "offline_access", "microprofile-jwt", "organization")
"""Realm default optional client scopes of a new realm (OIDC)."""

_ALL = {"id.token.claim": "true", "access.token.claim": "true",
        "userinfo.token.claim": "true", "introspection.token.claim": "true"}
_NO_USERINFO = {"id.token.claim": "true", "access.token.claim": "true",
                "introspection.token.claim": "true"}
_ACCESS = {"access.token.claim": "true", "introspection.token.claim": "true"}


def _attr(name: str, attribute: str, claim: str, json_type: str = "String") -> ProtocolMapper:
    return ProtocolMapper(name, "oidc-usermodel-attribute-mapper", {
        "user.attribute": attribute, "claim.name": claim, "jsonType.label": json_type, **_ALL})


def _note(name: str, note: str, claim: str, json_type: str = "String") -> ProtocolMapper:
    return ProtocolMapper(name, "oidc-usersessionmodel-note-mapper", {
        "user.session.note": note, "claim.name": claim, "jsonType.label": json_type,
        **_NO_USERINFO})


def _scope(name: str, mappers: tuple[ProtocolMapper, ...], *, in_scope: bool,
           role_scope: tuple[RoleRef, ...] = ()) -> ClientScope:
    return ClientScope(name, attributes={"include.in.token.scope": str(in_scope).lower()},
                       mappers=mappers, role_scope=role_scope, builtin=True)


BUILTIN_SCOPES: Mapping[str, ClientScope] = {s.name: s for s in (
    _scope("acr", (ProtocolMapper("acr loa level", "oidc-acr-mapper", dict(_NO_USERINFO)),),
           in_scope=False),
    _scope("basic", (
        ProtocolMapper("sub", "oidc-sub-mapper", dict(_ACCESS)),
        _note("auth_time", "AUTH_TIME", "auth_time", "long")), in_scope=False),
    _scope("email", (
        _attr("email", "email", "email"),
        ProtocolMapper("email verified", "oidc-usermodel-property-mapper", {
            "user.attribute": "emailVerified", "claim.name": "email_verified",
            "jsonType.label": "boolean", **_ALL})), in_scope=True),
    _scope("profile", (
        ProtocolMapper("full name", "oidc-full-name-mapper", dict(_ALL)),
        _attr("family name", "lastName", "family_name"),
        _attr("given name", "firstName", "given_name"),
        _attr("middle name", "middleName", "middle_name"),
        _attr("nickname", "nickname", "nickname"),
        _attr("username", "username", "preferred_username"),
        _attr("profile", "profile", "profile"),
        _attr("picture", "picture", "picture"),
        _attr("website", "website", "website"),
        _attr("gender", "gender", "gender"),
        _attr("birthdate", "birthdate", "birthdate"),
        _attr("updated at", "updatedAt", "updated_at", "long"),
        _attr("zoneinfo", "zoneinfo", "zoneinfo"),
        _attr("locale", "locale", "locale")), in_scope=True),
    _scope("roles", (
        ProtocolMapper("realm roles", "oidc-usermodel-realm-role-mapper", {
            "claim.name": "realm_access.roles", "jsonType.label": "String",
            "multivalued": "true", **_ACCESS}),
        ProtocolMapper("client roles", "oidc-usermodel-client-role-mapper", {
            "claim.name": "resource_access.${client_id}.roles", "jsonType.label": "String",
            "multivalued": "true", **_ACCESS}),
        ProtocolMapper("audience resolve", "oidc-audience-resolve-mapper", dict(_ACCESS))),
        in_scope=False),
    _scope("web-origins", (
        ProtocolMapper("allowed web origins", "oidc-allowed-origins-mapper", dict(_ACCESS)),),
        in_scope=False),
    _scope(SERVICE_ACCOUNT_SCOPE, (
        _note("Client Host", "clientHost", "clientHost"),
        _note("Client IP Address", "clientAddress", "clientAddress"),
        _note("Client ID", "client_id", "client_id")), in_scope=False),
    _scope("offline_access", (), in_scope=True, role_scope=((None, "offline_access"),)),
    _scope("address", (ProtocolMapper("address", "oidc-address-mapper", dict(_ALL)),),
           in_scope=True),
    _scope("phone", (
        _attr("phone number", "phoneNumber", "phone_number"),
        _attr("phone number verified", "phoneNumberVerified", "phone_number_verified",
              "boolean")), in_scope=True),
    _scope("microprofile-jwt", (
        _attr("upn", "username", "upn"),
        ProtocolMapper("groups", "oidc-usermodel-realm-role-mapper", {
            "claim.name": "groups", "jsonType.label": "String", "multivalued": "true",
            **_NO_USERINFO})), in_scope=True),
    _scope("organization", (
        ProtocolMapper("organization", "oidc-organization-membership-mapper", {
            "claim.name": "organization", "jsonType.label": "String", "multivalued": "true",
            **_ALL}),), in_scope=True),
)}
"""Keycloak 26.7's built-in OIDC client scopes by name."""


REALM_MANAGEMENT = "realm-management"
"""The built-in client holding a realm's admin roles."""
_MANAGEMENT_ROLES = ("view-realm", "view-users", "view-clients", "view-events",
                     "view-identity-providers", "view-authorization", "manage-realm",
                     "manage-users", "manage-clients", "manage-events",
                     "manage-identity-providers", "manage-authorization", "query-users",
                     "query-clients", "query-realms", "query-groups", "create-client",
                     "impersonation", "manage-organizations", "query-organizations",
                     "view-organizations")


def default_roles(realm: str) -> dict[RoleRef, tuple[RoleRef, ...]]:
    """The built-in composites: ``default-roles-<realm>``, ``account/manage-account`` and
    ``manage-consent``, and ``realm-management``'s ``realm-admin``/``view-*``."""
    rm = REALM_MANAGEMENT
    return {
        (rm, "realm-admin"): tuple((rm, r) for r in _MANAGEMENT_ROLES),
        (rm, "view-users"): ((rm, "query-users"), (rm, "query-groups")),
        (rm, "view-clients"): ((rm, "query-clients"),),
        (ACCOUNT_CLIENT, "manage-consent"): ((ACCOUNT_CLIENT, "view-consent"),),
        (None, f"default-roles-{realm}"): (
            (None, "offline_access"), (None, "uma_authorization"),
            (ACCOUNT_CLIENT, "view-profile"), (ACCOUNT_CLIENT, "manage-account")),
        (ACCOUNT_CLIENT, "manage-account"): ((ACCOUNT_CLIENT, "manage-account-links"),),
    }
