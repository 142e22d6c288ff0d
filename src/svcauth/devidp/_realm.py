"""The realm model: a Keycloak realm-import JSON file, placeholders resolved, as the
development identity provider needs it (clients, users, roles and their composites).

Keycloak adds built-in parts to every realm that the import file does not list; the ones
that show up in tokens are modelled here: the ``account`` client with its roles, and the
composite realm role ``default-roles-<realm>``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from .._placeholders import resolve_placeholders

RoleRef = tuple[str | None, str]
"""A role: ``(None, name)`` for a realm role, ``(client_id, name)`` for a client role."""

ACCOUNT_CLIENT = "account"
_ACCOUNT_ROLES = ("manage-account", "manage-account-links", "view-profile",
                  "view-applications", "view-consent", "manage-consent", "delete-account",
                  "view-groups")


@dataclass(frozen=True)
class Client:
    """One OpenID Connect client of the realm."""

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
    web_origins: tuple[str, ...] = ()
    """``webOrigins``: put in ``allowed-origins`` by the web-origins mapper."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """``attributes`` as strings."""
    jwks: tuple[Mapping[str, Any], ...] = ()
    """Public keys from ``jwks.string`` (when ``use.jwks.string`` is true)."""
    added_audiences: tuple[str, ...] = ()
    """Audiences its ``oidc-audience-mapper`` protocol mappers put in access tokens."""
    standard_flow: bool = True
    """``standardFlowEnabled``: may use the browser's authorization-code flow."""
    redirect_uris: tuple[str, ...] = ()
    """``redirectUris``: valid redirect URIs (exact, or a prefix ending in ``*``)."""

    def token_lifespan(self, realm_default: int) -> int:
        """Access-token lifetime: the ``access.token.lifespan`` attribute or the realm's."""
        raw = self.attributes.get("access.token.lifespan", "")
        return int(raw) if raw.strip().lstrip("-").isdigit() and int(raw) > 0 else realm_default

    @property
    def signing_alg(self) -> str | None:
        """``token.endpoint.auth.signing.alg``: the alg client assertions must use, if set."""
        return self.attributes.get("token.endpoint.auth.signing.alg") or None


@dataclass(frozen=True)
class User:
    """A realm user, possibly the service-account user of a client."""

    id: str
    """Stable UUID (uuid5 of realm and username), the tokens' ``sub``."""
    username: str
    """``username``."""
    enabled: bool = True
    """``enabled``."""
    email: str | None = None
    """``email``."""
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


@dataclass(frozen=True)
class Realm:
    """A loaded realm: clients and users by id, roles and their composites."""

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
    ``ssoSessionMaxLifespan``, ``revokeRefreshToken`` as 0/1, ``refreshTokenMaxReuse``);
    absent keys take Keycloak's defaults (see ``_sessions.BrowserSettings``)."""

    def service_account_user(self, client_id: str) -> User | None:
        """The service-account user of ``client_id``, if the realm has one."""
        for user in self.users.values():
            if user.service_account_client == client_id:
                return user
        return None

    def effective_roles(self, user: User) -> tuple[list[str], dict[str, list[str]]]:
        """The user's realm roles and client roles with composites expanded, sorted."""
        seen: set[RoleRef] = set()
        todo: list[RoleRef] = [(None, r) for r in user.realm_roles]
        todo += [(c, r) for c, roles in user.client_roles.items() for r in roles]
        while todo:
            ref = todo.pop()
            if ref in seen:
                continue
            seen.add(ref)
            todo.extend(self.composites.get(ref, ()))
        realm_roles = sorted(r for c, r in seen if c is None)
        by_client: dict[str, list[str]] = {}
        for client_id in self.clients:  # file order, so that ``aud`` order is stable
            roles = sorted(r for c, r in seen if c == client_id)
            if roles:
                by_client[client_id] = roles
        return realm_roles, by_client


def _flag(rep: Mapping[str, Any], name: str, default: bool) -> bool:
    value = rep.get(name, default)
    return value if isinstance(value, bool) else str(value).lower() == "true"


BROWSER_KEYS = ("accessCodeLifespan", "accessCodeLifespanLogin", "ssoSessionMaxLifespan",
                "revokeRefreshToken", "refreshTokenMaxReuse")
"""Realm keys the browser flow reads (``revokeRefreshToken`` is a JSON boolean: 0/1)."""

AUDIENCE_MAPPER = "oidc-audience-mapper"
"""Keycloak's hard-coded audience mapper (``included.client.audience`` or ``.custom.``)."""


def _added_audiences(rep: Mapping[str, Any]) -> tuple[str, ...]:
    """Audiences the client's own audience mappers add to its access tokens.

    As Keycloak's ``AudienceProtocolMapper``: the client audience wins over the custom one,
    and a mapper without ``access.token.claim`` counts as on (its backwards-compatible
    default). ``id.token.claim`` is not modelled: ID tokens keep ``aud`` = the client.
    """
    out: list[str] = []
    for mapper in rep.get("protocolMappers") or ():
        if not isinstance(mapper, dict) or mapper.get("protocolMapper") != AUDIENCE_MAPPER:
            continue
        config = {str(k): str(v) for k, v in (mapper.get("config") or {}).items()}
        if config.get("access.token.claim", "true").lower() != "true":
            continue
        value = config.get("included.client.audience") or config.get(
            "included.custom.audience")
        if value and value not in out:
            out.append(value)
    return tuple(out)


def _client(rep: Mapping[str, Any]) -> Client:
    attrs = {str(k): str(v) for k, v in (rep.get("attributes") or {}).items()}
    jwks: tuple[Mapping[str, Any], ...] = ()
    if attrs.get("use.jwks.string") == "true" and attrs.get("jwks.string"):
        try:
            keys = json.loads(attrs["jwks.string"]).get("keys", [])
        except (ValueError, AttributeError) as exc:
            raise ConfigurationError(
                f"client {rep.get('clientId')!r}: jwks.string: expected a JWKS JSON object",
                code="config_invalid") from exc
        jwks = tuple(k for k in keys if isinstance(k, dict))
    return Client(
        client_id=str(rep["clientId"]),
        enabled=_flag(rep, "enabled", True),
        public=_flag(rep, "publicClient", False),
        bearer_only=_flag(rep, "bearerOnly", False),
        authenticator=str(rep.get("clientAuthenticatorType", "client-secret")),
        secret=rep.get("secret"),
        service_accounts=_flag(rep, "serviceAccountsEnabled", False),
        direct_access=_flag(rep, "directAccessGrantsEnabled", False),
        web_origins=tuple(str(o) for o in rep.get("webOrigins") or ()),
        attributes=attrs,
        jwks=jwks,
        added_audiences=_added_audiences(rep),
        standard_flow=_flag(rep, "standardFlowEnabled", True),
        redirect_uris=tuple(str(u) for u in rep.get("redirectUris") or ()),
    )


def _user(realm: str, rep: Mapping[str, Any]) -> User:
    username = str(rep["username"]).lower()  # Keycloak stores usernames lower-cased
    password = None
    for cred in rep.get("credentials") or ():
        if cred.get("type") == "password" and "value" in cred:
            password = str(cred["value"])
    return User(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"svcauth-devidp:{realm}:{username}")),
        username=username,
        enabled=_flag(rep, "enabled", True),
        email=rep.get("email"),
        email_verified=_flag(rep, "emailVerified", False),
        first_name=rep.get("firstName"),
        last_name=rep.get("lastName"),
        password=password,
        realm_roles=tuple(rep.get("realmRoles") or ()),
        client_roles={str(c): tuple(r) for c, r in (rep.get("clientRoles") or {}).items()},
        service_account_client=rep.get("serviceAccountClientId"),
    )


def _composites(realm: str, roles: Mapping[str, Any]) -> dict[RoleRef, tuple[RoleRef, ...]]:
    out: dict[RoleRef, tuple[RoleRef, ...]] = {
        (None, f"default-roles-{realm}"): (
            (None, "offline_access"), (None, "uma_authorization"),
            (ACCOUNT_CLIENT, "view-profile"), (ACCOUNT_CLIENT, "manage-account")),
        (ACCOUNT_CLIENT, "manage-account"): ((ACCOUNT_CLIENT, "manage-account-links"),),
    }
    entries: list[tuple[str | None, Mapping[str, Any]]] = [
        (None, r) for r in roles.get("realm") or ()]
    entries += [(c, r) for c, rs in (roles.get("client") or {}).items() for r in rs]
    for owner, rep in entries:
        comp = rep.get("composites") or {}
        if not rep.get("composite") and not comp:
            continue
        parts: list[RoleRef] = [(None, r) for r in comp.get("realm") or ()]
        parts += [(c, r) for c, rs in (comp.get("client") or {}).items() for r in rs]
        out[(owner, str(rep["name"]))] = tuple(parts)
    return out


def realm_from_dict(data: Mapping[str, Any], env: Mapping[str, str]) -> Realm:
    """Build a :class:`Realm` from realm-import JSON, resolving placeholders from ``env``."""
    resolved = resolve_placeholders(dict(data), env)
    name = resolved.get("realm")
    if not isinstance(name, str) or not name:
        raise ConfigurationError("realm file: expected a non-empty 'realm' name",
                                 code="config_invalid")
    clients = {c.client_id: c for c in map(_client, resolved.get("clients") or ())}
    clients.setdefault(ACCOUNT_CLIENT, Client(client_id=ACCOUNT_CLIENT, public=True))
    users = {u.username: u for u in (_user(name, r) for r in resolved.get("users") or ())}
    # Keycloak creates the service-account user itself when the file does not list one.
    for client in clients.values():
        if client.service_accounts and not any(
                u.service_account_client == client.client_id for u in users.values()):
            sa = _user(name, {"username": f"service-account-{client.client_id}",
                              "serviceAccountClientId": client.client_id,
                              "realmRoles": [f"default-roles-{name}"]})
            users[sa.username] = sa
    return Realm(
        name=name,
        access_token_lifespan=int(resolved.get("accessTokenLifespan") or 300),
        clients=clients,
        users=users,
        composites=_composites(name, resolved.get("roles") or {}),
        sso_session_idle=int(resolved.get("ssoSessionIdleTimeout") or 1800),
        browser={k: int(resolved[k]) for k in BROWSER_KEYS if resolved.get(k) is not None},
    )


def load_realm(path: str | Path, env: Mapping[str, str] | None = None) -> Realm:
    """Load a Keycloak realm-import JSON file; ``${NAME}`` placeholders come from ``env``.

    ``env`` defaults to an empty mapping (not ``os.environ``): pass
    ``load_env_file("deploy/dev.env")`` or ``os.environ`` explicitly.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read realm file {p}: {exc.strerror}",
                                 code="config_missing") from exc
    except ValueError as exc:
        raise ConfigurationError(f"realm file {p}: expected JSON, found a syntax error "
                                 f"at line {getattr(exc, 'lineno', '?')}",
                                 code="config_invalid") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"realm file {p}: expected a JSON object", code="config_invalid")
    return realm_from_dict(data, env or {})
