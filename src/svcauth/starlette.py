"""Starlette integration: an ``AuthenticationBackend`` usable with ``requires()``.

>>> from starlette.middleware import Middleware
>>> from starlette.middleware.authentication import AuthenticationMiddleware
>>> from svcauth.starlette import ServiceAuthBackend, on_error
>>> middleware = [Middleware(AuthenticationMiddleware,                     # doctest: +SKIP
...                          backend=ServiceAuthBackend(guard), on_error=on_error)]

A verified request gets ``request.user`` (a :class:`ServiceUser`, whose ``identity`` is the
guard's result) and ``request.auth.scopes``: ``"authenticated"``, then the identity's roles
and scopes, so ``@requires("notification-service:notifications:send")`` works.

By default every request through the middleware needs a valid token (``No token provided``
→ 401). With ``allow_anonymous=True`` a request *without* credentials passes as
unauthenticated (routes use ``requires(...)``), while bad credentials are still refused.
Refusals go through :func:`on_error`, which answers the exact RFC 6750 status, headers and
``{"error": "..."}`` body; pass it as the middleware's ``on_error``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        BaseUser,
    )
    from starlette.requests import HTTPConnection
    from starlette.responses import PlainTextResponse, Response
except ImportError as exc:  # pragma: no cover - exercised only without starlette installed
    raise ImportError(
        "svcauth.starlette needs Starlette: install it with  pip install 'svcauth[starlette]'"
    ) from exc

from ._errors import MissingTokenError, SvcAuthError
from .receiver._dpop import DPoPSettings
from .receiver._guard import Guard
from .receiver._rfc6750 import refusal_for
from .receiver._scope import authenticate_scope

__all__ = ["ServiceAuthBackend", "ServiceAuthenticationError", "ServiceUser", "on_error"]


class ServiceUser(BaseUser):
    """``request.user`` for a verified caller; ``identity`` is what the guard returned."""

    def __init__(self, identity: Any) -> None:
        self._identity = identity

    @property
    def identity(self) -> Any:
        """What the guard returned (a ``ServiceIdentity`` for a ``ServicePolicy``)."""
        return self._identity

    @property
    def is_authenticated(self) -> bool:
        """Always true: only verified callers become a ``ServiceUser``."""
        return True

    @property
    def display_name(self) -> str:
        """The caller's client id."""
        return str(getattr(self.identity, "client_id", "") or "")



class ServiceAuthenticationError(AuthenticationError):
    """The backend's refusal; ``error`` is the svcauth error, ``realm`` the guard's realm."""

    def __init__(self, error: SvcAuthError, *, realm: str,
                 dpop: DPoPSettings | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.realm = realm
        self.dpop = dpop


def _scopes(identity: Any) -> list[str]:
    scopes = ["authenticated"]
    for name in ("roles", "scopes"):
        values = getattr(identity, name, ())
        if isinstance(values, Iterable) and not isinstance(values, str | bytes):
            scopes.extend(v for v in values if isinstance(v, str) and v not in scopes)
    return scopes


class ServiceAuthBackend(AuthenticationBackend):
    """Authenticates requests with a :class:`~svcauth.receiver.Guard` (async, never blocks).

    ``allow_anonymous``: let requests without credentials through as unauthenticated.
    ``exclude_paths``: exact paths never authenticated (health checks).
    """

    def __init__(
        self,
        guard: Guard[Any],
        *,
        allow_anonymous: bool = False,
        exclude_paths: Iterable[str] = (),
    ) -> None:
        self.guard = guard
        self.allow_anonymous = allow_anonymous
        self.exclude_paths = frozenset(exclude_paths)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """Credentials and user for a verified caller; ``None`` for excluded paths (and for
        requests without credentials when ``allow_anonymous``); otherwise raises
        :class:`ServiceAuthenticationError`."""
        scope = conn.scope
        if scope.get("path") in self.exclude_paths:
            return None
        guard = self.guard
        try:
            identity = await authenticate_scope(guard, scope)
        except MissingTokenError as error:
            if self.allow_anonymous:
                return None
            raise ServiceAuthenticationError(error, realm=guard.realm, dpop=guard.dpop) from None
        except SvcAuthError as error:
            raise ServiceAuthenticationError(error, realm=guard.realm, dpop=guard.dpop) from None
        return AuthCredentials(_scopes(identity)), ServiceUser(identity)


def on_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """``AuthenticationMiddleware`` ``on_error``: the RFC 6750 answer to a refusal."""
    if not isinstance(exc, ServiceAuthenticationError):
        return PlainTextResponse(str(exc), status_code=400)
    refusal = refusal_for(exc.error, realm=exc.realm, dpop=exc.dpop)
    return Response(
        refusal.body_bytes,
        status_code=refusal.status,
        headers=dict(refusal.headers),
    )
