"""Plain ASGI middleware: no framework needed.

>>> app = ServiceAuthMiddleware(app, guard, exclude_paths=("/healthz",))  # doctest: +SKIP

Every ``http`` and ``websocket`` request except ``exclude_paths`` (exact path match) must
carry a valid bearer token. The identity goes in ``scope["auth"]`` and in
``scope["state"]["identity"]`` (Starlette's ``request.state.identity``). An HTTP refusal is
answered with the exact RFC 6750 status, headers and ``{"error": "..."}`` body; a websocket
refusal closes the handshake with code 1008 (policy violation) before it is accepted.
``lifespan`` and other scope types pass through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from ._errors import SvcAuthError
from .receiver._guard import Guard
from .receiver._rfc6750 import refusal_for
from .receiver._scope import authenticate_scope

__all__ = ["ServiceAuthMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServiceAuthMiddleware:
    """ASGI middleware authenticating every request with ``guard`` (async, never blocks).

    ``include_code`` adds the stable ``code`` to refusal bodies.
    """

    def __init__(
        self,
        app: ASGIApp,
        guard: Guard[Any],
        *,
        exclude_paths: Iterable[str] = ("/healthz",),
        include_code: bool = False,
    ) -> None:
        self.app = app
        self.guard = guard
        self.exclude_paths = frozenset(exclude_paths)
        self.include_code = include_code

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate ``http``/``websocket`` scopes, then call the wrapped app or refuse."""
        kind = scope.get("type")
        if kind not in ("http", "websocket") or scope.get("path") in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        try:
            identity = await authenticate_scope(self.guard, scope)
        except SvcAuthError as error:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self._refuse(error, send)
            return
        scope["auth"] = identity
        state = scope.setdefault("state", {})
        state["identity"] = identity
        await self.app(scope, receive, send)

    async def _refuse(self, error: SvcAuthError, send: Send) -> None:
        refusal = refusal_for(error, realm=self.guard.realm, include_code=self.include_code,
                              dpop=self.guard.dpop)
        body = refusal.body_bytes
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers]
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
