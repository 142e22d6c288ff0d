"""Client side: gRPC call credentials that put a svcauth token on every call.

::

    from svcauth.caller import from_env
    from svcauth.grpc import local_channel_credentials, channel_credentials

    tokens = from_env()                          # a CachingTokenSource
    channel = grpc.secure_channel("inventory:443", channel_credentials(tokens))
    channel = grpc.secure_channel("127.0.0.1:50051", local_channel_credentials(tokens))

gRPC sends call credentials only over a secure channel: TLS (``channel_credentials``) or,
for loopback, ``grpc.local_channel_credentials()`` (``local_channel_credentials``), which
the server accepts on a plain ``add_insecure_port``.

gRPC asks the plugin for metadata on a thread of its own for every call, in sync and
``grpc.aio`` channels alike. :class:`TokenCallCredentials` answers there with
``source.token()`` (the cached path is a lock-free read); :class:`AsyncTokenCallCredentials`
hands the call to the application's event loop and answers with ``await source.atoken()``,
so a fetch uses the source's async client and single flight on that loop.

Every call's metadata comes from :func:`call_metadata`, which is given the call's target
(``service_url`` and method) so that a DPoP proof (RFC 9449 ``htu``/``htm``) can be added in
that one place.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
from typing import Any

import grpc

from ..caller._source import TokenSource

__all__ = [
    "AsyncTokenCallCredentials",
    "TokenCallCredentials",
    "call_credentials",
    "call_metadata",
    "channel_credentials",
    "local_channel_credentials",
]


def call_metadata(token: str, *, service_url: str, method_name: str) -> tuple[tuple[str, str], ...]:
    """The metadata one call carries for ``token``: ``authorization: Bearer <token>``.

    ``service_url`` and ``method_name`` name the call's target (from
    ``grpc.AuthMetadataContext``); unused today, they are what a DPoP proof binds to.
    """
    return (("authorization", f"Bearer {token}"),)


class TokenCallCredentials(grpc.AuthMetadataPlugin):
    """``grpc.AuthMetadataPlugin`` taking tokens from a :class:`~svcauth.caller.TokenSource`
    with ``source.token()`` (on gRPC's plugin thread, never the caller's).

    A source that cannot give a token fails the call before it is sent (gRPC reports it as
    ``UNAVAILABLE``, with the svcauth error's message, which never holds a secret).
    """

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"TokenCallCredentials({self.source!r})"

    def __call__(self, context: grpc.AuthMetadataContext,
                 callback: grpc.AuthMetadataPluginCallback) -> None:
        """Answer gRPC's metadata request for one call."""
        try:
            token = self.source.token()
        except Exception as error:
            callback((), error)
            return
        callback(call_metadata(token, service_url=context.service_url,
                               method_name=context.method_name), None)


class AsyncTokenCallCredentials(grpc.AuthMetadataPlugin):
    """``grpc.AuthMetadataPlugin`` for ``grpc.aio`` channels, answering with
    ``await source.atoken()`` on ``loop``.

    ``loop`` defaults to the running loop: build it inside the application's loop (the one
    its ``grpc.aio`` channels run on). The plugin thread only schedules the coroutine and
    returns; the loop answers gRPC when the token is there.
    """

    def __init__(self, source: TokenSource, *,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.source = source
        self.loop = loop if loop is not None else asyncio.get_running_loop()

    def __repr__(self) -> str:
        return f"AsyncTokenCallCredentials({self.source!r})"

    def __call__(self, context: grpc.AuthMetadataContext,
                 callback: grpc.AuthMetadataPluginCallback) -> None:
        """Answer gRPC's metadata request for one call, from the loop."""
        try:
            future = asyncio.run_coroutine_threadsafe(self.source.atoken(), self.loop)
        except RuntimeError as error:  # the loop is closed
            callback((), error)
            return
        service_url, method_name = context.service_url, context.method_name

        def answer(done: cf.Future[str]) -> None:
            try:
                token = done.result()
            except BaseException as error:
                callback((), error if isinstance(error, Exception) else RuntimeError("cancelled"))
                return
            callback(call_metadata(token, service_url=service_url, method_name=method_name),
                     None)

        future.add_done_callback(answer)


def call_credentials(source: TokenSource, *, aio: bool = False) -> grpc.CallCredentials:
    """``grpc.CallCredentials`` for ``source``: :class:`TokenCallCredentials`, or
    :class:`AsyncTokenCallCredentials` with ``aio=True`` (call it inside the running loop)."""
    plugin: grpc.AuthMetadataPlugin = (
        AsyncTokenCallCredentials(source) if aio else TokenCallCredentials(source))
    return grpc.metadata_call_credentials(plugin, name="svcauth")


def channel_credentials(source: TokenSource, *, channel: grpc.ChannelCredentials | None = None,
                        aio: bool = False) -> grpc.ChannelCredentials:
    """TLS channel credentials (``channel``, default ``grpc.ssl_channel_credentials()``)
    composed with the token call credentials of ``source``."""
    base = channel if channel is not None else grpc.ssl_channel_credentials()
    return grpc.composite_channel_credentials(base, call_credentials(source, aio=aio))


def local_channel_credentials(source: TokenSource, *, aio: bool = False,
                              connection: Any = None) -> grpc.ChannelCredentials:
    """Loopback channel credentials with the token call credentials of ``source``.

    ``grpc.local_channel_credentials()`` (``LOCAL_TCP`` unless ``connection`` says
    ``grpc.LocalConnectionType.UDS``) lets gRPC send call credentials over a plaintext
    connection that it has checked is local; the server listens with ``add_insecure_port``
    on 127.0.0.1. Use :func:`channel_credentials` (TLS) for anything else.
    """
    kind = connection if connection is not None else grpc.LocalConnectionType.LOCAL_TCP
    return grpc.composite_channel_credentials(grpc.local_channel_credentials(kind),
                                              call_credentials(source, aio=aio))
