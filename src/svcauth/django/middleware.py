"""``ServiceAuthMiddleware``: every request of a plain Django project needs a valid token.

::

    MIDDLEWARE = [..., "svcauth.django.middleware.ServiceAuthMiddleware"]

Sync and async capable: under WSGI (or a sync chain) it calls ``Guard.authenticate``; in
an async chain (ASGI) it awaits ``Guard.aauthenticate`` and never blocks the event loop.
Paths in ``SVCAUTH['EXCLUDE_PATHS']`` (exact match, default ``/healthz``) pass through. A
verified caller's identity is ``request.identity``; a refusal is answered at once with the
exact RFC 6750 status, headers and ``{"error": "..."}`` body, and the view never runs.
DRF's :class:`~svcauth.django.drf.ServiceTokenAuthentication` reuses the identity the
middleware found with the same guard instead of verifying the token a second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from .._errors import SvcAuthError
from ..receiver._guard import Guard
from ._refusal import refusal_response
from ._request import credentials_of
from ._settings import option, service_guard

__all__ = ["ServiceAuthMiddleware"]

# Where the middleware leaves (guard, identity) for DRF's authentication class.
VERIFIED = "_svcauth_verified"


class ServiceAuthMiddleware:
    """Django middleware authenticating every request but ``EXCLUDE_PATHS``.

    The guard is ``SVCAUTH['GUARD']`` or the one built from settings; a subclass may set
    the class attribute ``guard`` instead, and ``attribute`` names the request attribute
    the identity goes to (default ``request.identity``).
    """

    sync_capable = True
    async_capable = True
    guard: Guard[Any] | None = None
    attribute = "identity"

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.active_guard: Guard[Any] = self.guard or service_guard()
        """The guard every request goes through."""
        self.exclude_paths = frozenset(option("exclude_paths"))
        """Exact paths let through unauthenticated."""
        self.include_code: bool = option("include_code")
        """Whether refusal bodies carry the stable ``code``."""

    def __call__(self, request: Any) -> Any:
        """Authenticate ``request``, then hand it on or answer the refusal."""
        if self.is_async:
            return self.__acall__(request)
        if request.path in self.exclude_paths:
            return self.get_response(request)
        guard = self.active_guard
        values, query_token, endpoint = credentials_of(request)
        try:
            identity = guard.authenticate(values, query_token=query_token, endpoint=endpoint)
        except SvcAuthError as error:
            return refusal_response(error, realm=guard.realm, include_code=self.include_code)
        self._keep(request, identity)
        return self.get_response(request)

    async def __acall__(self, request: Any) -> Any:
        """Async twin of :meth:`__call__` (``Guard.aauthenticate``)."""
        get_response: Callable[[Any], Awaitable[Any]] = self.get_response
        if request.path in self.exclude_paths:
            return await get_response(request)
        guard = self.active_guard
        values, query_token, endpoint = credentials_of(request)
        try:
            identity = await guard.aauthenticate(values, query_token=query_token,
                                                 endpoint=endpoint)
        except SvcAuthError as error:
            return refusal_response(error, realm=guard.realm, include_code=self.include_code)
        self._keep(request, identity)
        return await get_response(request)

    def _keep(self, request: Any, identity: Any) -> None:
        setattr(request, self.attribute, identity)
        setattr(request, VERIFIED, (self.active_guard, identity))
