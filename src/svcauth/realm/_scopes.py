"""Which client scopes a token request reaches, as Keycloak's ``TokenManager`` decides.

- The request's scopes are the client itself (its own mappers and role scope), its default
  scopes, and the optional scopes the ``scope`` parameter names.
- The ``scope`` parameter is valid when every value but ``openid`` is one of the client's
  default or optional scopes; otherwise Keycloak answers ``invalid_scope``.
- The ``scope`` claim is ``openid`` (when asked) and the names of the reached scopes whose
  ``include.in.token.scope`` is on, sorted (Keycloak answers ``email profile`` whatever the
  file's order); the refresh token names every reached scope.
- Roles: every role of the user with ``fullScopeAllowed``; else only those in the role
  scope of the client and its reached scopes (composites expanded), plus the client's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._model import Client, ClientScope, Realm, RoleRef, User


@dataclass(frozen=True)
class ScopeSet:
    """The client scopes one request reaches."""

    client: Client
    """The requesting client."""
    scopes: tuple[ClientScope, ...]
    """Default scopes then requested optional scopes, in the client's order."""
    openid: bool
    """``openid`` was requested."""
    organizations: bool = False
    """The realm has ``organizationsEnabled``: only then is ``organization`` named in ``scope``."""

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the reached scopes."""
        return tuple(s.name for s in self.scopes)

    def scope_claim(self) -> str:
        """The access token's ``scope`` claim."""
        parts = ["openid"] if self.openid else []
        parts += sorted(s.name for s in self.scopes if s.include_in_token_scope
                        and (s.name != "organization" or self.organizations))
        return " ".join(parts)

    def refresh_scope_claim(self) -> str:
        """The refresh token's ``scope`` claim (every reached scope)."""
        return " ".join((["openid"] if self.openid else []) + sorted(self.names))


def invalid_scopes(realm: Realm, client: Client, requested: str) -> list[str]:
    """Requested scope values the client cannot have (Keycloak's ``isValidScope``)."""
    allowed = {"openid", *client.default_scopes, *client.optional_scopes}
    return [s for s in requested.split() if s not in allowed]


def reached_scopes(realm: Realm, client: Client, requested: str,
                   user: User | None = None) -> ScopeSet:
    """The scopes a (valid) request reaches; with ``user``, only those permitted to them: a
    scope with a role scope (``offline_access``: the ``offline_access`` role) needs one of
    its roles (Keycloak's ``isClientScopePermittedForUser``). ``organization`` is left out
    while the realm has organizations off."""
    asked = set(requested.split())
    names = list(client.default_scopes)
    names += [s for s in client.optional_scopes if s in asked and s not in names]
    organizations = realm.raw.get("organizationsEnabled") is True
    scopes = [realm.client_scopes[n] for n in names if n in realm.client_scopes
              and (n != "organization" or organizations)]
    if user is not None:
        roles = realm.expand(realm.direct_roles(user))
        scopes = [s for s in scopes if not s.role_scope
                  or roles & realm.expand(set(s.role_scope))]
    return ScopeSet(client=client, scopes=tuple(scopes), openid="openid" in asked,
                    organizations=organizations)


PROFILE_ATTRIBUTES = ("email", "firstName", "lastName")
"""What Keycloak's default user profile requires of a user (besides the username)."""


def profile_complete(realm: Realm, user: User) -> bool:
    """False when Keycloak 26 would refuse the user a direct grant with "Account is not fully
    set up": the default user profile (no user-profile component in the file) with
    ``VERIFY_PROFILE`` on requires an e-mail, a first and a last name."""
    if user.service_account_client is not None:
        return True
    components = realm.raw.get("components")
    if isinstance(components, dict) and components.get(
            "org.keycloak.userprofile.UserProfileProvider"):
        return True  # a profile of the file's own: not emulated (named at start-up)
    for action in realm.raw.get("requiredActions") or ():
        if isinstance(action, dict) and action.get("alias") == "VERIFY_PROFILE" \
                and action.get("enabled") is False:
            return True
    return all(realm.user_attribute(user, name) for name in PROFILE_ATTRIBUTES)


def token_roles(realm: Realm, user: User, reached: ScopeSet) -> set[RoleRef]:
    """The user's roles that reach the token (``TokenManager.getAccess``)."""
    roles = realm.expand(realm.direct_roles(user))
    client = reached.client
    if client.full_scope_allowed:
        return roles
    allowed: set[RoleRef] = {(c, r) for c, r in roles if c == client.client_id}
    scoped: set[RoleRef] = set(client.role_scope)
    for scope in reached.scopes:
        scoped |= set(scope.role_scope)
    allowed |= realm.expand(scoped)
    return roles & allowed
