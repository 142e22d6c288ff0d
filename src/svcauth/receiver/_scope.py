"""One request-from-scope adapter for the ASGI integrations (FastAPI, Starlette, plain
ASGI): what a ``Guard`` needs, read straight from the ASGI scope (pure; no framework
objects built per request).

Every ASGI integration calls :func:`authenticate_scope`, so they read the same headers,
the same query check and the same audit path (``url_path``: Starlette's
``request.url.path`` spelling, never the raw ``path`` with ``?``/``#`` unescaped).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from ._bearer import authorization_values, has_query_token, url_path
from ._guard import Guard
from ._request import request_from_scope

__all__ = ["authenticate_scope", "scope_endpoint"]

_I = TypeVar("_I")


def scope_endpoint(scope: Mapping[str, Any]) -> str:
    """``METHOD /path`` for the audit line (``WEBSOCKET /path`` for a websocket)."""
    return f"{scope.get('method', 'WEBSOCKET')} {url_path(scope)}"


def authenticate_scope(guard: Guard[_I], scope: Mapping[str, Any]) -> Awaitable[_I]:
    """``guard.aauthenticate`` for the request ``scope`` describes (await the result).

    Not a coroutine itself: it hands back the guard's, so the hot path pays no extra frame.
    """
    return guard.aauthenticate(
        authorization_values(scope.get("headers", ())),
        query_token=has_query_token(scope.get("query_string", b"")),
        endpoint=scope_endpoint(scope),
        request=request_from_scope(scope, guard.dpop) if guard.dpop else None,
    )
