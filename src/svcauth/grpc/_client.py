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

Every call's metadata comes from the source's :class:`~svcauth.caller.Credential` for the
call (``authorize("POST", htu)``, :mod:`svcauth.grpc._dpop` gives the rule for ``htu``):
``authorization: Bearer <token>``, or with a DPoP-bound token ``authorization: DPoP
<token>`` plus a fresh ``dpop`` proof per call; :func:`call_metadata` writes it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
from typing import Any

import grpc

from ..caller._credential import AuthorizingSource, Credential, authorizer_for
from ..caller._source import TokenSource
from ._dpop import DPOP_METHOD, caller_htu

__all__ = [
    "AsyncTokenCallCredentials",
    "TokenCallCredentials",
    "call_credentials",
    "call_metadata",
    "channel_credentials",
    "local_channel_credentials",
]


def call_metadata(credential: Credential | str, *, service_url: str = "",
                  method_name: str = "") -> tuple[tuple[str, str], ...]:
    """The metadata one call carries: ``authorization`` with the credential's scheme and
    token, then its extra headers with lower-case keys (``dpop``: the proof). A ``str`` is a
    Bearer token. ``service_url``/``method_name`` are not read (the credential was made for
    them); they stay for callers of the earlier signature."""
    if isinstance(credential, str):
        return (("authorization", f"Bearer {credential}"),)
    return (("authorization", credential.authorization),
            *((name.lower(), value) for name, value in credential.headers))


_HTU_CACHE_SIZE = 256


class _Targets:
    """``htu`` by (service_url, method_name), remembered for the last few targets."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], str] = {}

    def htu(self, context: grpc.AuthMetadataContext) -> str:
        key = (context.service_url, context.method_name)
        found = self._found.get(key)
        if found is None:
            found = caller_htu(*key)
            if len(self._found) >= _HTU_CACHE_SIZE:
                self._found.clear()
            self._found[key] = found
        return found


class TokenCallCredentials(grpc.AuthMetadataPlugin):
    """``grpc.AuthMetadataPlugin`` asking the source for each call's credential with
    ``authorize("POST", htu)`` (a plain :class:`~svcauth.caller.TokenSource`: ``token()``,
    Bearer), on gRPC's plugin thread, never the caller's.

    A source that cannot give a token fails the call before it is sent (gRPC reports it as
    ``UNAVAILABLE``, with the svcauth error's message, which never holds a secret).
    """

    def __init__(self, source: TokenSource | AuthorizingSource) -> None:
        self.source = source
        self._authorizer = authorizer_for(source)
        self._targets = _Targets()

    def __repr__(self) -> str:
        return f"TokenCallCredentials({self.source!r})"

    def __call__(self, context: grpc.AuthMetadataContext,
                 callback: grpc.AuthMetadataPluginCallback) -> None:
        """Answer gRPC's metadata request for one call."""
        try:
            credential = self._authorizer.authorize(DPOP_METHOD, self._targets.htu(context))
        except Exception as error:
            callback((), error)
            return
        callback(call_metadata(credential), None)


class AsyncTokenCallCredentials(grpc.AuthMetadataPlugin):
    """``grpc.AuthMetadataPlugin`` for ``grpc.aio`` channels, answering with
    ``await source.aauthorize("POST", htu)`` (or ``atoken()``) on ``loop``.

    ``loop`` defaults to the running loop: build it inside the application's loop (the one
    its ``grpc.aio`` channels run on). The plugin thread only schedules the coroutine and
    returns; the loop answers gRPC when the credential is there.
    """

    def __init__(self, source: TokenSource | AuthorizingSource, *,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.source = source
        self._authorizer = authorizer_for(source)
        self._targets = _Targets()
        self.loop = loop if loop is not None else asyncio.get_running_loop()

    def __repr__(self) -> str:
        return f"AsyncTokenCallCredentials({self.source!r})"

    def __call__(self, context: grpc.AuthMetadataContext,
                 callback: grpc.AuthMetadataPluginCallback) -> None:
        """Answer gRPC's metadata request for one call, from the loop."""
        try:
            htu = self._targets.htu(context)
            future = asyncio.run_coroutine_threadsafe(
                self._authorizer.aauthorize(DPOP_METHOD, htu), self.loop)
        except Exception as error:  # the loop is closed, or a target of another shape
            callback((), error)
            return

        def answer(done: cf.Future[Credential]) -> None:
            try:
                credential = done.result()
            except BaseException as error:
                callback((), error if isinstance(error, Exception) else RuntimeError("cancelled"))
                return
            callback(call_metadata(credential), None)

        future.add_done_callback(answer)


def call_credentials(source: TokenSource | AuthorizingSource, *,
                     aio: bool = False) -> grpc.CallCredentials:
    """``grpc.CallCredentials`` for ``source``: :class:`TokenCallCredentials`, or
    :class:`AsyncTokenCallCredentials` with ``aio=True`` (call it inside the running loop)."""
    plugin: grpc.AuthMetadataPlugin = (
        AsyncTokenCallCredentials(source) if aio else TokenCallCredentials(source))
    return grpc.metadata_call_credentials(plugin, name="svcauth")


def channel_credentials(source: TokenSource | AuthorizingSource, *,
                        channel: grpc.ChannelCredentials | None = None,
                        aio: bool = False) -> grpc.ChannelCredentials:
    """TLS channel credentials (``channel``, default ``grpc.ssl_channel_credentials()``)
    composed with the token call credentials of ``source``."""
    base = channel if channel is not None else grpc.ssl_channel_credentials()
    return grpc.composite_channel_credentials(base, call_credentials(source, aio=aio))


def local_channel_credentials(source: TokenSource | AuthorizingSource, *, aio: bool = False,
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
