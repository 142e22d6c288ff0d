"""Policies: from verified claims to an identity, or a 403 with a stable code. Pure code.

``ServicePolicy`` admits service-account tokens (machine callers); ``UserPolicy`` admits user
tokens (a storefront's logged-in customer). Both are pure (a decision is a function of the
verified claims alone), so a ``Guard`` keeps their decision with the cached claims; a
refusal is never kept.

Roles are named ``"<client>:<role>"`` for client roles (``resource_access``) and
``"realm:<role>"`` for realm roles (``realm_access``). A role is matched as the whole string,
so roles holding colons work (``notification-service:notifications:send`` is the role
``notifications:send`` of the client ``notification-service``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._errors import ConfigurationError, ForbiddenError
from ..providers import KEYCLOAK as KEYCLOAK_PROFILE
from ..providers import (
    ProviderProfile,
    keycloak_roles,
    keycloak_service_account,
    profile_named,
    rfc9068_service_account,
    scopes_of,
)
from ._claims import Claims, roles_of
from ._texts import (
    INSUFFICIENT_SCOPE,
    NOT_SERVICE_ACCOUNT,
    NOT_USER_TOKEN,
    UNAUTHORIZED_CLIENT,
    UNAUTHORIZED_SERVICE,
)

__all__ = [
    "ServiceIdentity",
    "ServicePolicy",
    "UserIdentity",
    "UserPolicy",
    "keycloak_service_account",
    "rfc9068_service_account",
    "roles_of",
]


ServiceAccountRule = Callable[[Mapping[str, Any]], bool]


_RULES: dict[str, ServiceAccountRule] = {
    "keycloak": keycloak_service_account, "rfc9068": rfc9068_service_account,
}


def _rule(rule: str | ServiceAccountRule | None, profile: ProviderProfile) -> ServiceAccountRule:
    if rule is None:
        return profile.service_account
    if callable(rule):
        return rule
    if rule not in _RULES:
        raise ConfigurationError(f"service_account_rule: expected one of {sorted(_RULES)} or a "
                                 f"callable, found {rule!r}")
    return _RULES[rule]


def _names(value: Collection[str] | str | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(v, str) and v for v in items):
        raise ConfigurationError(f"{what}: expected non-empty strings")
    return frozenset(items)


def _role_names(value: Collection[str] | str) -> frozenset[str]:
    roles = _names(value, "required_roles") or frozenset()
    for role in roles:
        owner, _, name = role.partition(":")
        if not owner or not name:
            raise ConfigurationError(f"required_roles: expected 'client:role' or 'realm:role', "
                                     f"found {role!r}")
    return roles


def _missing(required: frozenset[str], held: frozenset[str]) -> tuple[str, ...]:
    if required <= held:  # the common case: no set built, nothing sorted
        return ()
    return tuple(sorted(required - held))


class _Sealed:
    """Attributes fixed once ``__init__`` ends: a ``Guard`` keeps a pure policy's decisions
    with the cached claims, so a policy changed in place would keep answering the old way.
    Build a new policy (and ``Guard``) instead."""

    def __setattr__(self, name: str, value: Any) -> None:
        if "_sealed" in self.__dict__:
            raise ConfigurationError(f"{type(self).__name__}.{name}: policies are immutable "
                                     f"once built; build a new one")
        object.__setattr__(self, name, value)

    def _seal(self) -> None:
        object.__setattr__(self, "_sealed", True)


def _held(claims: Mapping[str, Any],
          profile: ProviderProfile = KEYCLOAK_PROFILE) -> tuple[frozenset[str], frozenset[str]]:
    # Verified ``Claims`` derive Keycloak's roles and the scopes once per token; any other
    # mapping, or another profile's layout, is read afresh (and a Guard keeps the decision).
    if type(claims) is Claims:
        roles = claims.roles if profile.roles is keycloak_roles else profile.roles(claims)
        scopes = claims.scopes if profile.scopes is scopes_of else profile.scopes(claims)
        return roles, scopes
    return profile.roles(claims), profile.scopes(claims)


@dataclass(frozen=True, slots=True)
class ServiceIdentity:
    """The calling service, as a verified token and the policy describe it."""

    client_id: str
    """The caller's client id (``azp`` for Keycloak, ``client_id`` otherwise)."""
    subject: str | None
    """``sub`` (Keycloak: the service-account user's id, not the client id)."""
    roles: frozenset[str]
    """``realm:<role>`` and ``<client>:<role>`` names."""
    scopes: frozenset[str]
    """Granted scopes (``scope`` or ``scp``)."""
    claims: Mapping[str, Any] = field(repr=False)
    """All verified claims."""


@dataclass(frozen=True, slots=True)
class UserIdentity:
    """The end user behind a user token, and the client (app) it was issued to."""

    subject: str
    """``sub``, the user's id."""
    username: str | None
    """``preferred_username``."""
    email: str | None
    """``email``."""
    client_id: str | None
    """``azp``, the application the user logged in to."""
    roles: frozenset[str]
    """``realm:<role>`` and ``<client>:<role>`` names."""
    scopes: frozenset[str]
    """Granted scopes."""
    claims: Mapping[str, Any] = field(repr=False)
    """All verified claims."""


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


class ServicePolicy(_Sealed):
    """Who may call: service-account tokens only, optionally from allowed clients, holding
    required roles and scopes::

        policy = ServicePolicy(allowed_clients={"inventory-sync", "shop-api"},
                               required_roles={"notification-service:notifications:send"})
        identity = policy.authorize(verifier.verify(token))

    Refusals are ``ForbiddenError`` with code ``not_service_account``,
    ``unauthorized_service`` or ``insufficient_scope`` (``required`` names what is missing).
    ``profile`` (:mod:`svcauth.providers`, default ``KEYCLOAK``) says how a service
    account is told, which claim names the client and where roles and scopes live;
    ``profile=RFC9068`` reads RFC 9068 tokens. ``service_account_rule`` overrides the
    profile's rule: ``ServicePolicy.KEYCLOAK`` (``"keycloak"``: ``client_id`` == ``azp``),
    ``ServicePolicy.RFC9068`` (``"rfc9068"``: ``sub`` == ``client_id``) or any callable.
    """

    KEYCLOAK: ServiceAccountRule = staticmethod(keycloak_service_account)
    """Keycloak's service-account rule."""
    RFC9068: ServiceAccountRule = staticmethod(rfc9068_service_account)
    """RFC 9068's service-account rule."""

    pure: ClassVar[bool] = True
    """Its decision is a function of the verified claims alone, so a ``Guard`` may keep it
    with the cached claims (see :mod:`svcauth.receiver._guard`). A policy that reads
    anything else (a clock, a database) leaves this out and runs on every request."""

    def __init__(
        self,
        *,
        allowed_clients: Collection[str] | None = None,
        required_roles: Collection[str] = (),
        required_scopes: Collection[str] = (),
        service_account_rule: str | ServiceAccountRule | None = None,
        profile: ProviderProfile | str = KEYCLOAK_PROFILE,
    ) -> None:
        self.profile = profile_named(profile)
        """The provider's token conventions (:mod:`svcauth.providers`)."""
        self.allowed_clients = _names(allowed_clients, "allowed_clients")
        """Client ids admitted, or ``None`` for any service account."""
        if self.allowed_clients is not None and not self.allowed_clients:
            raise ConfigurationError("allowed_clients: expected None (any) or at least one "
                                     "client id, found an empty collection")
        self.required_roles = _role_names(required_roles)
        """Roles the caller must hold, all of them."""
        self.required_scopes = _names(required_scopes, "required_scopes") or frozenset()
        """Scopes the caller must have been granted, all of them."""
        self.is_service_account = _rule(service_account_rule, self.profile)
        """The rule telling a service-account token from a user token."""
        self._seal()

    def __repr__(self) -> str:
        return (f"ServicePolicy(allowed_clients={self.allowed_clients!r}, "
                f"required_roles={sorted(self.required_roles)!r}, "
                f"required_scopes={sorted(self.required_scopes)!r})")

    def authorize(self, claims: Mapping[str, Any]) -> ServiceIdentity:
        """The caller's identity, or ``ForbiddenError``."""
        if not self.is_service_account(claims):
            raise ForbiddenError(NOT_SERVICE_ACCOUNT, code="not_service_account")
        client_id = self.profile.client_id(claims) or ""
        if self.allowed_clients is not None and client_id not in self.allowed_clients:
            raise ForbiddenError(UNAUTHORIZED_SERVICE, code="unauthorized_service")
        roles, scopes = _held(claims, self.profile)
        missing = _missing(self.required_roles, roles) + _missing(self.required_scopes, scopes)
        if missing:
            raise ForbiddenError(INSUFFICIENT_SCOPE, code="insufficient_scope", required=missing)
        return ServiceIdentity(client_id=client_id, subject=_str(claims.get("sub")), roles=roles,
                               scopes=scopes, claims=claims)


class UserPolicy(_Sealed):
    """Who may call: user tokens only (service accounts refused with ``not_user_token``),
    issued to allowed clients (``unauthorized_client``), with required roles and scopes
    (``insufficient_scope``)::

        policy = UserPolicy(allowed_clients={"web-shop"}, required_roles={"realm:customer"})

    ``allowed_clients`` has no default: name the applications whose users may call, or pass
    ``None`` for any. ``profile`` as for :class:`ServicePolicy`.
    """

    pure: ClassVar[bool] = True
    """Its decision is a function of the verified claims alone, so a ``Guard`` may keep it
    with the cached claims (see :mod:`svcauth.receiver._guard`). A policy that reads
    anything else (a clock, a database) leaves this out and runs on every request."""

    def __init__(
        self,
        *,
        allowed_clients: Collection[str] | None,
        required_roles: Collection[str] = (),
        required_scopes: Collection[str] = (),
        service_account_rule: str | ServiceAccountRule | None = None,
        profile: ProviderProfile | str = KEYCLOAK_PROFILE,
    ) -> None:
        self.profile = profile_named(profile)
        """The provider's token conventions (:mod:`svcauth.providers`)."""
        self.allowed_clients = _names(allowed_clients, "allowed_clients")
        """Clients (the profile's client-id claim, ``azp`` for Keycloak) whose user tokens
        are admitted, or ``None`` for any."""
        self.required_roles = _role_names(required_roles)
        """Roles the user must hold, all of them."""
        self.required_scopes = _names(required_scopes, "required_scopes") or frozenset()
        """Scopes the token must carry, all of them."""
        self.is_service_account = _rule(service_account_rule, self.profile)
        """The rule telling a service-account token from a user token."""
        self._seal()

    def __repr__(self) -> str:
        return (f"UserPolicy(allowed_clients={self.allowed_clients!r}, "
                f"required_roles={sorted(self.required_roles)!r})")

    def authorize(self, claims: Mapping[str, Any]) -> UserIdentity:
        """The user's identity, or ``ForbiddenError``."""
        subject = _str(claims.get("sub"))
        if self.is_service_account(claims) or not subject:
            raise ForbiddenError(NOT_USER_TOKEN, code="not_user_token")
        client_id = self.profile.client_id(claims)
        if self.allowed_clients is not None and client_id not in self.allowed_clients:
            raise ForbiddenError(UNAUTHORIZED_CLIENT, code="unauthorized_client")
        roles, scopes = _held(claims, self.profile)
        missing = _missing(self.required_roles, roles) + _missing(self.required_scopes, scopes)
        if missing:
            raise ForbiddenError(INSUFFICIENT_SCOPE, code="insufficient_scope", required=missing)
        return UserIdentity(subject=subject, username=_str(claims.get("preferred_username")),
                            email=_str(claims.get("email")), client_id=client_id, roles=roles,
                            scopes=scopes, claims=claims)
