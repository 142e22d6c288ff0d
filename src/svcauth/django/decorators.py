"""``require_service``: protect one Django view (function or ``as_view()``), sync or async.

::

    @require_service()                      # the guard of settings.SVCAUTH
    def send(request):
        return JsonResponse({"from": request.identity.client_id})

    @require_service(user_guard())          # a user-token endpoint
    async def checkout(request): ...

``async def`` views await ``Guard.aauthenticate`` (the event loop is never blocked); sync
views call ``Guard.authenticate``. A refused request never reaches the view.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction

from .._errors import SvcAuthError
from ..receiver._guard import Guard
from ._refusal import refusal_response
from ._request import credentials_of
from ._settings import option, service_guard

__all__ = ["require_service"]

_F = TypeVar("_F", bound=Callable[..., Any])


def require_service(
    guard: Guard[Any] | None = None, *, attribute: str = "identity",
    include_code: bool | None = None,
) -> Callable[[_F], _F]:
    """Decorate a view so it runs only for callers ``guard`` lets in.

    ``guard`` defaults to the settings' service guard (looked up at the first request, so
    the decorator can run before settings are configured). The identity is set as
    ``request.<attribute>``; ``include_code`` (default ``SVCAUTH['INCLUDE_CODE']``) adds the
    stable ``code`` to refusal bodies.
    """

    def answer(error: SvcAuthError, used: Guard[Any]) -> Any:
        code = option("include_code") if include_code is None else include_code
        return refusal_response(error, realm=used.realm, include_code=code)

    def decorate(view: _F) -> _F:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
                used = guard or service_guard()
                values, query_token, endpoint = credentials_of(request)
                try:
                    identity = await used.aauthenticate(values, query_token=query_token,
                                                        endpoint=endpoint)
                except SvcAuthError as error:
                    return answer(error, used)
                setattr(request, attribute, identity)
                return await view(request, *args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            used = guard or service_guard()
            values, query_token, endpoint = credentials_of(request)
            try:
                identity = used.authenticate(values, query_token=query_token, endpoint=endpoint)
            except SvcAuthError as error:
                return answer(error, used)
            setattr(request, attribute, identity)
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
