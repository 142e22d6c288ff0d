"""aiohttp integration: a client middleware that puts a service token on every request, and
a server middleware that lets in only callers a :class:`~svcauth.receiver.Guard` accepts.

Client (aiohttp's own ``ClientSession(middlewares=...)`` extension point)::

    from svcauth.aiohttp import BearerAuthMiddleware
    async with aiohttp.ClientSession(middlewares=(BearerAuthMiddleware(tokens),)) as http:
        await http.post("http://127.0.0.1:8082/api/notifications/order", json={...})

On a 401 whose ``WWW-Authenticate`` says ``error="invalid_token"`` (or names no error) the
token is dropped from the cache and the request is sent once more with a fresh one, when its
body can be replayed (no body, bytes, text, JSON, url-encoded form); a streamed body (async
iterator, file) is never sent twice. A 403 is never retried. The token goes only to the
origins given (by default, the origin of the first request), so a redirect to another host
never carries it (aiohttp drops ``Authorization`` there, and the middleware, which runs for
every hop, does not put it back).

Server (an ``@web.middleware``)::

    from svcauth.aiohttp import IDENTITY, ServiceAuthMiddleware, protect, public
    app = web.Application(middlewares=[ServiceAuthMiddleware(guard)])

    async def send(request):                        # guarded by the app's guard
        return web.json_response({"from": request[IDENTITY].client_id})

    @protect(read_guard)                            # this route: another guard
    async def history(request): ...

    @public                                         # this route: no token needed
    async def version(request): ...

Every request needs a valid token unless its path is in ``public_paths`` (exact match,
``/healthz`` by default) or its handler is marked :func:`public`; unknown paths (404) are
guarded too, so an anonymous caller cannot map the routes. Refusals are answered with the
exact RFC 6750 status, headers and ``{"error": "..."}`` body every svcauth integration
gives (:func:`svcauth.receiver.refusal_for`); the identity is ``request[IDENTITY]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

try:
    from aiohttp import BytesPayload, ClientHandlerType, ClientRequest, ClientResponse, hdrs, web
except ImportError as exc:  # pragma: no cover - exercised only without aiohttp installed
    raise ImportError(
        "svcauth.aiohttp needs aiohttp 3.14 or newer: install it with  pip install 'svcauth[aiohttp]'"
    ) from exc

from yarl import URL

from ._errors import SvcAuthError
from .caller._challenge import should_retry_unauthorized
from .caller._source import TokenSource
from .receiver._bearer import has_query_token, url_path
from .receiver._guard import Guard
from .receiver._rfc6750 import refusal_for

__all__ = [
    "IDENTITY",
    "BearerAuthMiddleware",
    "ServiceAuthMiddleware",
    "protect",
    "public",
]

# -- client ------------------------------------------------------------------------------------


def _replayable(request: ClientRequest) -> bool:
    # In-memory payloads (bytes, str, JSON, url-encoded forms are all BytesPayload) can be sent
    # again; an async iterator or a file has been read by the first send.
    body = request.body
    return body == b"" or isinstance(body, BytesPayload)


async def _authorize(request: ClientRequest, source: TokenSource) -> str:
    """Put the source's token on ``request``; the one place the header is written."""
    token = await source.atoken()
    request.headers[hdrs.AUTHORIZATION] = f"Bearer {token}"
    return token


def _retry(response: ClientResponse, *, replayable: bool) -> bool:
    """Whether to send once more with a fresh token; the one place this is decided."""
    return replayable and should_retry_unauthorized(
        response.status, response.headers.get(hdrs.WWW_AUTHENTICATE)
    )


class BearerAuthMiddleware:
    """An aiohttp client middleware taking tokens from a :class:`~svcauth.caller.TokenSource`.

    ``origins`` (``"https://inventory.internal:8443"``, ...) are where the token may go; by
    default the origin of the first request it sees. Requests elsewhere pass untouched.
    Uses ``await source.atoken()``: never blocks the event loop.
    """

    def __init__(self, source: TokenSource, *, origins: Iterable[str] | None = None) -> None:
        self.source = source
        self._origins: frozenset[URL] | None = (
            None if origins is None else frozenset(URL(o).origin() for o in origins)
        )

    def __repr__(self) -> str:
        return f"BearerAuthMiddleware({self.source!r})"

    def _allowed(self, url: URL) -> bool:
        origin = url.origin()
        if self._origins is None:
            self._origins = frozenset((origin,))
        return origin in self._origins

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send ``request`` with a token; once more with a fresh one when :func:`_retry` says."""
        if not self._allowed(request.url):
            return await handler(request)
        # Decided before sending: the send itself consumes a streamed body.
        replayable = _replayable(request)
        token = await _authorize(request, self.source)
        response = await handler(request)
        if not _retry(response, replayable=replayable):
            return response
        self.source.invalidate(token)
        response.release()
        await _authorize(request, self.source)
        return await handler(request)


# -- server ------------------------------------------------------------------------------------

IDENTITY: web.RequestKey[Any] = web.RequestKey("identity")
"""``request[IDENTITY]``: what the guard returned (a ``ServiceIdentity`` for a
``ServicePolicy``), set on every request the middleware let in with a token."""

_GUARD_ATTRIBUTE = "__svcauth_guard__"
_PUBLIC = "public"  # the attribute's value for handlers marked public

_H = TypeVar("_H", bound=Callable[..., Any])


def protect(guard: Guard[Any]) -> Callable[[_H], _H]:
    """Guard one handler (function or ``web.View`` class) with ``guard`` instead of the
    middleware's own: another policy for this route, same refusals."""

    def mark(handler: _H) -> _H:
        setattr(handler, _GUARD_ATTRIBUTE, guard)
        return handler

    return mark


def public(handler: _H) -> _H:
    """Leave one handler open: no token needed, none checked, ``IDENTITY`` not set."""
    setattr(handler, _GUARD_ATTRIBUTE, _PUBLIC)
    return handler


def _query_token(raw_query: str) -> bool:
    # The raw (still percent-encoded) query, as an ASGI scope holds it; no parse unless needed.
    if "access_token" not in raw_query and "%" not in raw_query:
        return False
    return has_query_token(raw_query.encode("latin-1", "replace"))


def _endpoint(request: web.Request) -> str:
    path = request.path
    if "?" in path or "#" in path or "\\" in path:
        path = url_path({"path": path})
    return f"{request.method} {path}"


class ServiceAuthMiddleware:
    """aiohttp server middleware authenticating requests with a :class:`Guard` (async).

    ``guard`` protects every route not marked otherwise; :func:`protect` gives one handler
    its own guard, :func:`public` and ``public_paths`` (exact paths) leave routes open.
    ``include_code`` adds the stable ``code`` to refusal bodies.
    """

    __middleware_version__ = 1  # what ``@web.middleware`` sets: a new-style middleware

    def __init__(
        self,
        guard: Guard[Any],
        *,
        public_paths: Iterable[str] = ("/healthz",),
        include_code: bool = False,
    ) -> None:
        self.guard = guard
        self.public_paths = frozenset(public_paths)
        self.include_code = include_code

    def __repr__(self) -> str:
        return f"ServiceAuthMiddleware(realm={self.guard.realm!r})"

    async def __call__(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        """Let the request through to ``handler`` with ``request[IDENTITY]`` set, or refuse."""
        if request.path in self.public_paths:
            return await handler(request)  # type: ignore[no-any-return]
        # The route's own handler, not ``handler`` (which may be the next middleware).
        guard = getattr(request.match_info.handler, _GUARD_ATTRIBUTE, self.guard)
        if guard is _PUBLIC:
            return await handler(request)  # type: ignore[no-any-return]
        try:
            identity = await guard.aauthenticate(
                request.headers.getall(hdrs.AUTHORIZATION, []),  # repeats kept apart
                query_token=_query_token(request.rel_url.raw_query_string),
                endpoint=_endpoint(request),
            )
        except SvcAuthError as error:
            refusal = refusal_for(error, realm=guard.realm, include_code=self.include_code)
            return web.Response(body=refusal.body_bytes, status=refusal.status,
                                headers=refusal.headers)
        request[IDENTITY] = identity
        return await handler(request)  # type: ignore[no-any-return]
