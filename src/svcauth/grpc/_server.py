"""Server side: interceptors that let a call in only with a token its method's guard accepts.

The interceptor looks up the method's guard (:class:`MethodGuards`) when the call is routed,
and authenticates inside the handler, where the ``ServicerContext`` can abort with a status
and trailing metadata: in the sync server that is the worker thread (``Guard.authenticate``
may block there, never the server's polling thread); in ``grpc.aio`` it is the call's task
(``Guard.aauthenticate``, never blocking the loop). The identity is reachable from the
handler through :func:`current_identity` (a context variable set only while the handler's
own code runs, so it never leaks into another call).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import grpc
import grpc.aio

from .._errors import ForbiddenError, SvcAuthError
from ..receiver._dpop import DPoPSettings
from ..receiver._guard import Guard
from ..receiver._request import RequestInfo
from ._dpop import receiver_htu, request_info
from ._methods import MethodGuards
from ._refusal import grpc_refusal_for

__all__ = ["AsyncServiceAuthInterceptor", "ServiceAuthInterceptor", "current_identity"]

log = logging.getLogger("svcauth.grpc")

_IDENTITY: contextvars.ContextVar[Any] = contextvars.ContextVar("svcauth_grpc_identity")
_AUTHORIZATION = "authorization"
_BEHAVIORS = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
_UNSET = object()


def current_identity() -> Any:
    """The verified identity of the call being handled (a :class:`~svcauth.ServiceIdentity`
    with ``ServicePolicy``).

    Raises ``LookupError`` outside a method authenticated by a svcauth interceptor (a public
    method, or code not running for a call).
    """
    value = _IDENTITY.get(_UNSET)
    if value is _UNSET:
        raise LookupError("no svcauth identity here: the method is public or not behind "
                          "ServiceAuthInterceptor / AsyncServiceAuthInterceptor")
    return value


def authorization_values(metadata: Iterable[tuple[str, Any]] | None) -> list[str]:
    """Every ``authorization`` value of the call's invocation metadata (gRPC keys arrive
    lower-cased), so that repeated entries are refused like repeated HTTP headers."""
    return [value.decode("latin-1") if isinstance(value, bytes) else value
            for key, value in metadata or () if key == _AUTHORIZATION]


def _endpoint(method: str) -> str:
    return f"GRPC {method}"


def _request_for(guard: Guard[Any], method: str) -> Callable[[Any], RequestInfo | None]:
    """What the guard is given of each call: nothing (Bearer only), or with DPoP on the
    method, ``htu`` and the call's ``dpop`` metadata (see :mod:`svcauth.grpc._dpop`)."""
    if guard.dpop is None:
        return lambda metadata: None
    url = receiver_htu(guard.dpop, method, method)
    return lambda metadata: request_info(url, metadata)


_CACHE_LIMIT = 1024


class _Wrapped:
    """Wrapped handlers by method, reused while the server hands out the same handler
    object (generic and generated handlers do): no closures built per call. Bounded, so
    made-up method names cannot grow it (past the limit, wrapping is done per call)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, Any]] = {}

    def get(self, method: str, handler: Any, wrap: Callable[[], Any]) -> Any:
        entry = self._entries.get(method)
        if entry is not None and entry[0] is handler:
            return entry[1]
        wrapped = wrap()
        if len(self._entries) < _CACHE_LIMIT or method in self._entries:
            self._entries[method] = (handler, wrapped)
        return wrapped


# -- sync ----------------------------------------------------------------------------------

def _abort_sync(context: grpc.ServicerContext, error: SvcAuthError, realm: str,
                dpop: DPoPSettings | None = None) -> None:
    refusal = grpc_refusal_for(error, realm=realm, dpop=dpop)
    context.set_trailing_metadata(refusal.trailing_metadata)
    context.abort(grpc.StatusCode[refusal.status], refusal.details)


def _refusing_sync(handler: Any, error: SvcAuthError, realm: str) -> Any:
    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        _abort_sync(context, error, realm)

    return handler._replace(**{n: refuse for n in _BEHAVIORS if getattr(handler, n)})


def _guarded_sync(handler: Any, guard: Guard[Any], method: str) -> Any:
    endpoint = _endpoint(method)
    request_for = _request_for(guard, method)

    def authenticate(context: grpc.ServicerContext) -> Any:
        try:
            metadata = context.invocation_metadata()
            return guard.authenticate(authorization_values(metadata), endpoint=endpoint,
                                      request=request_for(metadata))
        except SvcAuthError as error:
            _abort_sync(context, error, guard.realm, guard.dpop)
            raise  # pragma: no cover - abort() raises

    def unary(behavior: Callable[..., Any]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            token = _IDENTITY.set(authenticate(context))
            try:
                return behavior(request, context)
            finally:
                _IDENTITY.reset(token)
        return call

    def streaming(behavior: Callable[..., Any]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            identity = authenticate(context)  # before the first response is asked for
            token = _IDENTITY.set(identity)
            try:
                responses = iter(behavior(request, context))
            finally:
                _IDENTITY.reset(token)
            return _with_identity(responses, identity)
        return call

    wrapped = {}
    for name in _BEHAVIORS:
        behavior = getattr(handler, name)
        if behavior is not None:
            wrapped[name] = streaming(behavior) if name.endswith("_stream") else unary(behavior)
    return handler._replace(**wrapped)


def _with_identity(responses: Iterator[Any], identity: Any) -> Iterator[Any]:
    # The variable is set only while the handler's generator runs, one step at a time.
    while True:
        token = _IDENTITY.set(identity)
        try:
            item = next(responses)
        except StopIteration:
            return
        finally:
            _IDENTITY.reset(token)
        yield item


class _Routing:
    """What both interceptors share: the method table and the routing of one call."""

    def __init__(self, guards: MethodGuards) -> None:
        if not isinstance(guards, MethodGuards):
            raise TypeError(f"{type(self).__name__}: expected MethodGuards, found "
                            f"{type(guards).__name__}")
        self.guards = guards
        self._wrapped = _Wrapped()

    def _route(self, handler: Any, method: str, refusing: Callable[..., Any],
               guarded: Callable[..., Any]) -> Any:
        """``handler`` refused (an unlisted method), as it is (no guard), or wrapped with
        its method's guard (once per method)."""
        if handler is None:
            return None
        try:
            guard = self.guards.guard_for(method)
        except ForbiddenError as error:
            log.debug("svcauth.grpc: refused an unlisted method")
            return refusing(handler, error, self.guards.realm)
        if guard is None:
            return handler
        return self._wrapped.get(method, handler, lambda: guarded(handler, guard, method))


class ServiceAuthInterceptor(_Routing, grpc.ServerInterceptor):
    """``grpc.ServerInterceptor`` for ``grpc.server(...)``: every call must satisfy its
    method's guard.

    >>> server = grpc.server(pool, interceptors=[ServiceAuthInterceptor(guards)])  # doctest: +SKIP

    Refusals are ``UNAUTHENTICATED`` / ``PERMISSION_DENIED`` / ``UNAVAILABLE`` with
    ``svcauth-error`` (and ``www-authenticate``) in the trailing metadata; see
    :mod:`svcauth.grpc._refusal`. Unknown methods stay ``UNIMPLEMENTED``.
    """

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Any],
                          handler_call_details: grpc.HandlerCallDetails) -> Any:
        """Route the call, then wrap its handler with the method's guard."""
        return self._route(continuation(handler_call_details), handler_call_details.method,
                           _refusing_sync, _guarded_sync)


# -- asyncio -------------------------------------------------------------------------------

async def _abort_async(context: grpc.aio.ServicerContext[Any, Any], error: SvcAuthError,
                       realm: str, dpop: DPoPSettings | None = None) -> None:
    refusal = grpc_refusal_for(error, realm=realm, dpop=dpop)
    await context.abort(grpc.StatusCode[refusal.status], refusal.details,
                        refusal.trailing_metadata)


def _refusing_async(handler: Any, error: SvcAuthError, realm: str) -> Any:
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await _abort_async(context, error, realm)

    # A coroutine for every kind: grpc.aio awaits a coroutine stream handler (write style).
    return handler._replace(**{n: refuse for n in _BEHAVIORS if getattr(handler, n)})


async def _in_thread(identity: Any, function: Callable[..., Any], *args: Any) -> Any:
    token = _IDENTITY.set(identity)
    try:
        # to_thread copies the context: the sync handler sees the identity.
        return await asyncio.to_thread(function, *args)
    finally:
        _IDENTITY.reset(token)


def _guarded_async(handler: Any, guard: Guard[Any], method: str) -> Any:
    endpoint = _endpoint(method)
    request_for = _request_for(guard, method)

    async def authenticate(context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            metadata = context.invocation_metadata()
            return await guard.aauthenticate(authorization_values(metadata),
                                             endpoint=endpoint, request=request_for(metadata))
        except SvcAuthError as error:
            await _abort_async(context, error, guard.realm, guard.dpop)
            raise  # pragma: no cover - abort() raises

    def unary(behavior: Callable[..., Any]) -> Callable[..., Any]:
        is_async = inspect.iscoroutinefunction(behavior)

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            identity = await authenticate(context)
            if not is_async:
                return await _in_thread(identity, behavior, request, context)
            token = _IDENTITY.set(identity)
            try:
                return await behavior(request, context)
            finally:
                _IDENTITY.reset(token)
        return call

    def streaming(behavior: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(behavior):  # writes with context.write()
            return unary(behavior)
        is_async_gen = inspect.isasyncgenfunction(behavior)

        async def call(request: Any,
                       context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            identity = await authenticate(context)
            if is_async_gen:
                responses = behavior(request, context).__aiter__()
                while True:
                    token = _IDENTITY.set(identity)
                    try:
                        item = await responses.__anext__()
                    except StopAsyncIteration:
                        return
                    finally:
                        _IDENTITY.reset(token)
                    yield item
            else:
                sync_responses = iter(await _in_thread(identity, behavior, request, context))
                while True:
                    item = await _in_thread(identity, next, sync_responses, _UNSET)
                    if item is _UNSET:
                        return
                    yield item
        return call

    wrapped = {}
    for name in _BEHAVIORS:
        behavior = getattr(handler, name)
        if behavior is not None:
            wrapped[name] = streaming(behavior) if name.endswith("_stream") else unary(behavior)
    return handler._replace(**wrapped)


class AsyncServiceAuthInterceptor(_Routing, grpc.aio.ServerInterceptor):
    """``grpc.aio.ServerInterceptor`` for ``grpc.aio.server(...)``; the async twin of
    :class:`ServiceAuthInterceptor` (``Guard.aauthenticate``: the loop never blocks).

    Async handlers (coroutines, async generators, ``context.write`` style) run as they are;
    sync handlers run in a thread with the identity visible to them.
    """

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        """Route the call, then wrap its handler with the method's guard."""
        return self._route(await continuation(handler_call_details),
                           handler_call_details.method, _refusing_async, _guarded_async)
