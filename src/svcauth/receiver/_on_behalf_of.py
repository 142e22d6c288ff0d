"""``OnBehalfOfPolicy``: admit tokens a service obtained for a user by token exchange.

After Keycloak's standard token exchange (RFC 8693) the token names the user as ``sub``
and the service that exchanged it as ``azp``; ``aud`` and client roles are narrowed to the
requested audience. Keycloak writes no ``act`` claim (delegation is not supported), so the
acting service is ``azp``::

    policy = OnBehalfOfPolicy(allowed_clients={"shop-api"},
                              required_roles={"payment-service:payments:charge"})
    who = policy.authorize(verifier.verify(token))
    who.user, who.client_id          # alice's id, "shop-api"

Pure code, as the other policies: a ``Guard`` keeps its decision with the cached claims.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._errors import ConfigurationError, ForbiddenError
from ..providers import KEYCLOAK, ProviderProfile, profile_named
from ._policy import (
    ServiceAccountRule,
    _held,
    _missing,
    _names,
    _role_names,
    _rule,
    _Sealed,
    _str,
)
from ._texts import INSUFFICIENT_SCOPE, NOT_USER_TOKEN, UNAUTHORIZED_SERVICE


@dataclass(frozen=True, slots=True)
class OnBehalfOfIdentity:
    """A user, and the service acting for that user."""

    user: str
    """``sub``: the user's id."""
    username: str | None
    """``preferred_username`` of the user."""
    email: str | None
    """``email`` of the user."""
    client_id: str
    """``azp``: the service that exchanged the user's token and calls on the user's behalf."""
    roles: frozenset[str]
    """``realm:<role>`` and ``<client>:<role>`` names left after the exchange's narrowing."""
    scopes: frozenset[str]
    """Granted scopes."""
    claims: Mapping[str, Any] = field(repr=False)
    """All verified claims."""


class OnBehalfOfPolicy(_Sealed):
    """Who may call: a user token exchanged by an allowed service, with required roles.

    Refusals are ``ForbiddenError``: ``not_user_token`` (a service-account token, or no
    ``sub``), ``unauthorized_service`` (``azp`` is not an allowed client: a user's own
    token, obtained at the storefront, is refused here unless its client is listed) and
    ``insufficient_scope`` (``required`` names what is missing). ``allowed_clients`` is
    required: naming the services that may act for users is the point of the policy.
    """

    pure: ClassVar[bool] = True
    """Its decision is a function of the verified claims alone, so a ``Guard`` may keep it
    with the cached claims (see :mod:`svcauth.receiver._guard`). A policy that reads
    anything else (a clock, a database) leaves this out and runs on every request."""

    def __init__(
        self,
        *,
        allowed_clients: Collection[str],
        required_roles: Collection[str] = (),
        required_scopes: Collection[str] = (),
        service_account_rule: str | ServiceAccountRule | None = None,
        profile: ProviderProfile | str = KEYCLOAK,
    ) -> None:
        self.profile = profile_named(profile)
        """The provider's token conventions (:mod:`svcauth.providers`)."""
        clients = _names(allowed_clients, "allowed_clients")
        if not clients:
            raise ConfigurationError("OnBehalfOfPolicy allowed_clients: expected the client "
                                     "ids of the services that may act for users, found none",
                                     code="config_missing")
        self.allowed_clients: frozenset[str] = clients
        """Services (``azp``) whose exchanged tokens are admitted."""
        self.required_roles = _role_names(required_roles)
        """Roles the token must carry, all of them."""
        self.required_scopes = _names(required_scopes, "required_scopes") or frozenset()
        """Scopes the token must carry, all of them."""
        self.is_service_account = _rule(service_account_rule, self.profile)
        """The rule telling a service-account token from a user token."""
        self._seal()

    def __repr__(self) -> str:
        return (f"OnBehalfOfPolicy(allowed_clients={sorted(self.allowed_clients)!r}, "
                f"required_roles={sorted(self.required_roles)!r})")

    def authorize(self, claims: Mapping[str, Any]) -> OnBehalfOfIdentity:
        """The user and the acting service, or ``ForbiddenError``."""
        user = _str(claims.get("sub"))
        if self.is_service_account(claims) or not user:
            raise ForbiddenError(NOT_USER_TOKEN, code="not_user_token")
        client_id = _str(claims.get("azp"))
        if client_id is None or client_id not in self.allowed_clients:
            raise ForbiddenError(UNAUTHORIZED_SERVICE, code="unauthorized_service")
        roles, scopes = _held(claims, self.profile)
        missing = _missing(self.required_roles, roles) + _missing(self.required_scopes, scopes)
        if missing:
            raise ForbiddenError(INSUFFICIENT_SCOPE, code="insufficient_scope", required=missing)
        return OnBehalfOfIdentity(user=user, username=_str(claims.get("preferred_username")),
                                  email=_str(claims.get("email")), client_id=client_id,
                                  roles=roles, scopes=scopes, claims=claims)
