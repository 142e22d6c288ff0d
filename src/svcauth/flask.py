"""Flask integration: a view decorator that puts the caller's identity on ``flask.g``.

>>> from svcauth.flask import require_service
>>> @app.post("/notifications")                # doctest: +SKIP
... @require_service(guard)
... def send():
...     return {"from": g.identity.client_id}

A refused request never reaches the view: it is answered with the exact RFC 6750 status,
headers and ``{"error": "..."}`` body. Sync views use ``Guard.authenticate``; ``async def``
views (``flask[async]``) use ``Guard.aauthenticate``. Repeated ``Authorization`` headers
are refused whether the WSGI server passes them separately or joins them with a comma.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

try:
    from flask import Response, g, request
except ImportError as exc:  # pragma: no cover - exercised only without flask installed
    raise ImportError(
        "svcauth.flask needs Flask: install it with  pip install 'svcauth[flask]'"
    ) from exc

from ._errors import SvcAuthError
from .receiver._dpop import DPoPSettings
from .receiver._guard import Guard
from .receiver._request import RequestInfo
from .receiver._rfc6750 import refusal_for

__all__ = ["require_service"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _response(error: SvcAuthError, guard: Guard[Any], include_code: bool) -> Response:
    refusal = refusal_for(error, realm=guard.realm, include_code=include_code, dpop=guard.dpop)
    return Response(refusal.body_bytes, status=refusal.status, headers=list(refusal.headers))


def _request_info(settings: DPoPSettings) -> RequestInfo:
    url = settings.request_url(request.scheme, request.host, request.script_root + request.path)
    return RequestInfo(request.method, url, request.headers.getlist("DPoP"))


def require_service(
    guard: Guard[Any], *, attribute: str = "identity", include_code: bool = False
) -> Callable[[_F], _F]:
    """Decorate a Flask view so it runs only for callers ``guard`` lets in.

    The identity is stored as ``flask.g.<attribute>`` (default ``g.identity``).
    ``include_code`` adds the stable ``code`` to refusal bodies.
    """

    def decorate(view: _F) -> _F:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    identity = await guard.aauthenticate(
                        request.headers.getlist("Authorization"),
                        query_token="access_token" in request.args,
                        endpoint=f"{request.method} {request.path}",
                        request=_request_info(guard.dpop) if guard.dpop else None,
                    )
                except SvcAuthError as error:
                    return _response(error, guard, include_code)
                setattr(g, attribute, identity)
                return await view(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                identity = guard.authenticate(
                    request.headers.getlist("Authorization"),
                    query_token="access_token" in request.args,
                    endpoint=f"{request.method} {request.path}",
                    request=_request_info(guard.dpop) if guard.dpop else None,
                )
            except SvcAuthError as error:
                return _response(error, guard, include_code)
            setattr(g, attribute, identity)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
