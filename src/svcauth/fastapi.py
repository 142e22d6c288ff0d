"""FastAPI integration: a dependency that returns the caller's identity.

>>> from fastapi import Depends, FastAPI
>>> from svcauth.fastapi import ServiceAuth, install_error_handlers
>>> app = FastAPI()                                               # doctest: +SKIP
>>> install_error_handlers(app)                                   # doctest: +SKIP
>>> Caller = Annotated[ServiceIdentity, Depends(ServiceAuth(guard))]  # doctest: +SKIP
>>> @app.post("/notifications")                                   # doctest: +SKIP
... async def send(caller: Caller): ...

``ServiceAuth`` is a FastAPI security scheme, so OpenAPI shows an HTTP ``bearer`` scheme
(``bearerFormat: JWT``) on every route using it. Refusals are raised as
:class:`AuthRefused`, an ``HTTPException`` carrying the RFC 6750 status and headers.
FastAPI's own handler would wrap the body as ``{"detail": ...}``; ``install_error_handlers``
registers the handler that answers the seed's exact ``{"error": "..."}`` body instead (a
warning is logged once if a refusal is raised in an app without it). A dependency cannot
return a response, and an exception + handler keeps the route signature clean, hence this
shape.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

try:
    from fastapi import FastAPI
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
    from fastapi.security.base import SecurityBase
    from starlette.exceptions import HTTPException
    from starlette.requests import HTTPConnection, Request
    from starlette.responses import JSONResponse, Response
except ImportError as exc:  # pragma: no cover - exercised only without fastapi installed
    raise ImportError(
        "svcauth.fastapi needs FastAPI: install it with  pip install 'svcauth[fastapi]'"
    ) from exc

from ._errors import SvcAuthError
from .receiver._dpop import DPoPSettings
from .receiver._guard import Guard
from .receiver._rfc6750 import refusal_for
from .receiver._scope import authenticate_scope

__all__ = ["AuthRefused", "ServiceAuth", "install_error_handlers"]

log = logging.getLogger("svcauth.fastapi")

_I = TypeVar("_I")


class AuthRefused(HTTPException):
    """A request refused by :class:`ServiceAuth`; ``error`` is the svcauth error."""

    def __init__(self, error: SvcAuthError, *, realm: str,
                 dpop: DPoPSettings | None = None) -> None:
        refusal = refusal_for(error, realm=realm, dpop=dpop)
        super().__init__(
            status_code=refusal.status,
            detail=refusal.body["error"],
            headers={k: v for k, v in refusal.headers if k != "Content-Type"},
        )
        self.error = error
        self.realm = realm
        self.dpop = dpop


class ServiceAuth(SecurityBase, Generic[_I]):
    """FastAPI dependency: verifies the request's bearer token and returns the identity.

    ``guard`` holds the verifier and the policy. ``scheme_name`` and ``description`` name
    the OpenAPI security scheme. Uses ``Guard.aauthenticate``: never blocks the loop.
    """

    _warned = False

    def __init__(
        self,
        guard: Guard[_I],
        *,
        scheme_name: str | None = None,
        description: str | None = "OAuth 2.0 access token (client credentials)",
    ) -> None:
        self.guard = guard
        self.model = HTTPBearerModel(bearerFormat="JWT", description=description)
        self.scheme_name = scheme_name or type(self).__name__

    async def __call__(self, request: HTTPConnection) -> Any:
        """The guard's identity for this request, or :class:`AuthRefused`."""
        # Straight from the ASGI scope: no Headers, QueryParams or URL object per request.
        guard = self.guard
        try:
            return await authenticate_scope(guard, request.scope)
        except SvcAuthError as error:
            self._check_handler(request)
            raise AuthRefused(error, realm=guard.realm, dpop=guard.dpop) from None

    @classmethod
    def _check_handler(cls, request: HTTPConnection) -> None:
        if cls._warned:
            return
        app = request.scope.get("app")
        handlers = getattr(app, "exception_handlers", None)
        if isinstance(handlers, dict) and AuthRefused not in handlers:
            cls._warned = True
            log.warning("svcauth.fastapi: install_error_handlers(app) was not called; refusals "
                        'are answered as {"detail": ...} instead of {"error": ...}')


def _handle(include_code: bool) -> Any:
    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthRefused)
        refusal = refusal_for(exc.error, realm=exc.realm, include_code=include_code,
                              dpop=exc.dpop)
        return JSONResponse(
            dict(refusal.body),
            status_code=refusal.status,
            headers={k: v for k, v in refusal.headers if k != "Content-Type"},
        )

    return handler


def install_error_handlers(app: FastAPI, *, include_code: bool = False) -> None:
    """Make ``app`` answer refusals with the exact RFC 6750 status, headers and
    ``{"error": "..."}`` body (plus ``code`` when ``include_code``)."""
    app.add_exception_handler(AuthRefused, _handle(include_code))
