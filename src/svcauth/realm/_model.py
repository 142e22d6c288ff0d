"""The realm model: a Keycloak realm-import file as Keycloak holds it after the import.

Frozen data only; :mod:`._parse` builds it with Keycloak's defaults, :mod:`._scopes` answers
which client scopes (and so which protocol mappers) a request reaches. The dev IdP issues
tokens from it; ``svcauth keycloak lint`` and ``apply`` judge and send the same file through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RoleRef = tuple[str | None, str]
"""A role: ``(None, name)`` for a realm role, ``(client_id, name)`` for a client role."""

OIDC = "openid-connect"
"""The protocol name of OpenID Connect clients and scopes."""


@dataclass(frozen=True)
class ProtocolMapper:
    """One ``protocolMappers[]`` entry of a client or a client scope."""

    name: str
    """The mapper's name."""
    mapper_type: str
    """``protocolMapper``, e.g. ``oidc-usermodel-attribute-mapper``."""
    config: Mapping[str, str] = field(default_factory=dict)
    """``config``, every value a string as Keycloak stores it."""
    protocol: str = OIDC
    """``protocol``."""

    @property
    def audience_client(self) -> str | None:
        """For an audience mapper that reaches access tokens: the client it adds to ``aud``."""
        if self.mapper_type != "oidc-audience-mapper":
            return None
        # Keycloak 26.7.3 adds no claim for a mapper without access.token.claim "true".
        if self.config.get("access.token.claim") != "true":
            return None
        return self.config.get("included.client.audience") or None


@dataclass(frozen=True)
class ClientScope:
    """A realm client scope (``clientScopes[]`` or one of Keycloak's built-ins)."""

    name: str
    """``name``: what the ``scope`` parameter asks for."""
    protocol: str = OIDC
    """``protocol``."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """``attributes`` as strings."""
    mappers: tuple[ProtocolMapper, ...] = ()
    """Its protocol mappers."""
    role_scope: tuple[RoleRef, ...] = ()
    """Roles in its scope (``scopeMappings``/``clientScopeMappings`` naming it)."""
    builtin: bool = False
    """True for a scope Keycloak created (the file's ``clientScopes`` was absent)."""

    @property
    def include_in_token_scope(self) -> bool:
        """``include.in.token.scope`` (absent: true): named in the token's ``scope`` claim."""
        value = self.attributes.get("include.in.token.scope")
        return value is None or value.lower() == "true"


@dataclass(frozen=True)
class Client:
    """One client of the realm, Keycloak's defaults filled in."""

    client_id: str
    """The ``clientId``."""
    enabled: bool = True
    """``enabled``."""
    public: bool = False
    """``publicClient``: no credentials."""
    bearer_only: bool = False
    """``bearerOnly`` (legacy): may not obtain tokens."""
    authenticator: str = "client-secret"
    """``clientAuthenticatorType``: ``client-secret`` or ``client-jwt``."""
    secret: str | None = field(default=None, repr=False)
    """The resolved client secret (never shown in ``repr``)."""
    service_accounts: bool = False
    """``serviceAccountsEnabled``: may use ``client_credentials``."""
    direct_access: bool = False
    """``directAccessGrantsEnabled``: may use ``password``."""
    standard_flow: bool = True
    """``standardFlowEnabled`` (Keycloak's default true)."""
    implicit_flow: bool = False
    """``implicitFlowEnabled``."""
    web_origins: tuple[str, ...] = ()
    """``webOrigins``: put in ``allowed-origins`` by the web-origins mapper."""
    redirect_uris: tuple[str, ...] = ()
    """``redirectUris``."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """``attributes`` as strings."""
    jwks: tuple[Mapping[str, Any], ...] = ()
    """Public keys from ``jwks.string`` (when ``use.jwks.string`` is true)."""
    protocol: str = OIDC
    """``protocol``."""
    full_scope_allowed: bool = True
    """``fullScopeAllowed``: every role of the user reaches the token."""
    default_scopes: tuple[str, ...] = ()
    """Names of its default client scopes (after Keycloak's import rules)."""
    optional_scopes: tuple[str, ...] = ()
    """Names of its optional client scopes."""
    mappers: tuple[ProtocolMapper, ...] = ()
    """Its own protocol mappers (the dedicated scope)."""
    role_scope: tuple[RoleRef, ...] = ()
    """Roles in its own scope (``scopeMappings``/``clientScopeMappings`` naming it)."""
    given_default_scopes: tuple[str, ...] | None = None
    """``defaultClientScopes`` exactly as the file gives them (None: absent)."""

    def token_lifespan(self, realm_default: int) -> int:
        """Access-token lifetime: the ``access.token.lifespan`` attribute or the realm's."""
        raw = self.attributes.get("access.token.lifespan", "")
        return int(raw) if raw.strip().lstrip("-").isdigit() and int(raw) > 0 else realm_default

    @property
    def signing_alg(self) -> str | None:
        """``token.endpoint.auth.signing.alg``: the alg client assertions must use, if set."""
        return self.attributes.get("token.endpoint.auth.signing.alg") or None

    @property
    def lightweight(self) -> bool:
        """``client.use.lightweight.access.token.enabled``: lightweight access tokens."""
        return self.attributes.get("client.use.lightweight.access.token.enabled",
                                   "").lower() == "true"

    @property
    def added_audiences(self) -> tuple[str, ...]:
        """Audiences its own ``oidc-audience-mapper`` mappers put in access tokens."""
        out: list[str] = []
        for mapper in self.mappers:
            if mapper.mapper_type != "oidc-audience-mapper":
                continue
            if mapper.config.get("access.token.claim") != "true":
                continue
            value = (mapper.config.get("included.client.audience")
                     or mapper.config.get("included.custom.audience"))
            if value and value not in out:
                out.append(value)
        return tuple(out)


@dataclass(frozen=True)
class User:
    """A realm user, possibly the service-account user of a client."""

    id: str
    """The ``id`` from the file, else a stable UUID (uuid5 of realm and username)."""
    username: str
    """``username`` (lower-cased, as Keycloak stores it)."""
    enabled: bool = True
    """``enabled``."""
    email: str | None = None
    """``email`` (lower-cased)."""
    email_verified: bool = False
    """``emailVerified``."""
    first_name: str | None = None
    """``firstName``."""
    last_name: str | None = None
    """``lastName``."""
    password: str | None = field(default=None, repr=False)
    """The resolved password credential (never shown in ``repr``)."""
    realm_roles: tuple[str, ...] = ()
    """Directly mapped realm roles."""
    client_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Directly mapped client roles by client id."""
    service_account_client: str | None = None
    """``serviceAccountClientId`` when this is a service-account user."""
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``attributes``: name -> values."""
    groups: tuple[str, ...] = ()
    """Paths of the groups it is a direct member of (``/parent/child``)."""


@dataclass(frozen=True)
class Group:
    """A group (``groups[]`` and their ``subGroups``)."""

    path: str
    """``/parent/child``."""
    name: str
    """``name``."""
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``attributes``."""
    realm_roles: tuple[str, ...] = ()
    """``realmRoles``."""
    client_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``clientRoles``."""

    @property
    def parent(self) -> str | None:
        """The parent group's path, None at the top."""
        head = self.path.rsplit("/", 1)[0]
        return head or None


@dataclass(frozen=True)
class Realm:
    """A loaded realm: what Keycloak would hold after importing the file."""

    name: str
    """``realm``."""
    access_token_lifespan: int
    """``accessTokenLifespan`` in seconds (Keycloak's default 300)."""
    clients: Mapping[str, Client]
    """Clients by ``clientId``, in file order, the built-in ``account`` client last."""
    users: Mapping[str, User]
    """Users by username."""
    composites: Mapping[RoleRef, tuple[RoleRef, ...]]
    """Composite roles and what they contain."""
    sso_session_idle: int = 1800
    """``ssoSessionIdleTimeout``: the refresh token lifetime of the password grant."""
    browser: Mapping[str, int] = field(default_factory=dict)
    """Browser-flow settings from the file, as Keycloak names them (``accessCodeLifespan``,
    ``accessCodeLifespanLogin``, ``ssoSessionMaxLifespan``, ``revokeRefreshToken`` as 0/1,
    ``refreshTokenMaxReuse``); absent keys take Keycloak's defaults (the embedded provider's
    ``_sessions.BrowserSettings``)."""
    client_scopes: Mapping[str, ClientScope] = field(default_factory=dict)
    """Client scopes by name (the file's, or Keycloak's built-ins when it has none)."""
    default_scopes: tuple[str, ...] = ()
    """Realm default default scopes (given to new clients)."""
    optional_scopes: tuple[str, ...] = ()
    """Realm default optional scopes."""
    groups: Mapping[str, Group] = field(default_factory=dict)
    """Groups by path."""
    unresolved: tuple[tuple[str, str], ...] = ()
    """``(where, "${NAME}")`` placeholders left as written (no such variable), as on Keycloak."""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """The document the model was built from (placeholders replaced where resolvable)."""

    def service_account_user(self, client_id: str) -> User | None:
        """The service-account user of ``client_id``, if the realm has one."""
        for user in self.users.values():
            if user.service_account_client == client_id:
                return user
        return None

    def user_by_id(self, user_id: object) -> User | None:
        """The user whose ``id`` is ``user_id``."""
        return next((u for u in self.users.values() if u.id == user_id), None)

    def direct_roles(self, user: User) -> set[RoleRef]:
        """The user's role mappings plus those of its groups and their parents."""
        refs: set[RoleRef] = {(None, r) for r in user.realm_roles}
        refs |= {(c, r) for c, roles in user.client_roles.items() for r in roles}
        for path in user.groups:
            current: str | None = path
            while current is not None and (group := self.groups.get(current)) is not None:
                refs |= {(None, r) for r in group.realm_roles}
                refs |= {(c, r) for c, roles in group.client_roles.items() for r in roles}
                current = group.parent
        return refs

    def expand(self, refs: set[RoleRef]) -> set[RoleRef]:
        """``refs`` with every composite role expanded (Keycloak's deep role mappings)."""
        seen: set[RoleRef] = set()
        todo = list(refs)
        while todo:
            ref = todo.pop()
            if ref in seen:
                continue
            seen.add(ref)
            todo.extend(self.composites.get(ref, ()))
        return seen

    def effective_roles(self, user: User) -> tuple[list[str], dict[str, list[str]]]:
        """The user's realm roles and client roles with groups and composites expanded,
        sorted (client roles in client file order)."""
        return self.split_roles(self.expand(self.direct_roles(user)))

    def split_roles(self, refs: set[RoleRef]) -> tuple[list[str], dict[str, list[str]]]:
        """``refs`` as sorted realm roles and client roles by client (in file order)."""
        realm_roles = sorted(r for c, r in refs if c is None)
        by_client: dict[str, list[str]] = {}
        order = list(self.clients) + sorted({c for c, _ in refs if c and c not in self.clients})
        for client_id in order:
            roles = sorted(r for c, r in refs if c == client_id)
            if roles:
                by_client[client_id] = roles
        return realm_roles, by_client

    def user_attribute(self, user: User, name: str, *, aggregate: bool = False) -> list[str]:
        """Values of attribute ``name``: the user's own, else its groups' (parents included),
        or all of them with ``aggregate`` (Keycloak's ``resolveAttribute``)."""
        root = {"username": user.username, "email": user.email,
                "firstName": user.first_name, "lastName": user.last_name}
        if name in root:
            value = root[name]
            return [value] if value is not None else []
        values = list(user.attributes.get(name, ()))
        if values and not aggregate:
            return values
        for path in user.groups:
            current: str | None = path
            while current is not None and (group := self.groups.get(current)) is not None:
                found = list(group.attributes.get(name, ()))
                if found and not aggregate:
                    return found
                values += [v for v in found if v not in values]
                current = group.parent
        return values
