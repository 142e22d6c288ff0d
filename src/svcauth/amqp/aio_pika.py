"""``aio-pika`` shell: an asyncio RabbitMQ connection whose password is the caller's
service token, renewed on the open connection with ``connection.update-secret``.

::

    from svcauth.caller import from_env
    from svcauth.amqp.aio_pika import AsyncTokenConnection

    broker = AsyncTokenConnection(from_env(), host="127.0.0.1", port=5672)
    connection = await broker.open()           # aio_pika.abc.AbstractConnection
    async with broker.refusals("publish"):
        await exchange.publish(message, routing_key="")
    await broker.close()

    await broker.run(session)   # await session(connection) again after every drop

A plain (not robust) connection: reopening is :meth:`run`'s job, because a robust
connection would reconnect with the token it was opened with, long expired after a drop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

try:
    import aio_pika as _aio_pika
    import aiormq.exceptions as _aiormq_errors
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("svcauth.amqp.aio_pika needs aio-pika: install svcauth[amqp]") from exc

from .._errors import SvcAuthError
from ..caller._policy import Backoff
from ._connection import BrokerSettings, TokenBinding

__all__ = ["AsyncTokenConnection"]

_DROPS = (_aiormq_errors.AMQPError, ConnectionError, OSError, asyncio.TimeoutError)


class AsyncTokenConnection:
    """Opens aio-pika connections authenticated by ``source`` and keeps their token current.

    ``source`` is a :class:`~svcauth.caller.CachingTokenSource`; errors as
    :class:`svcauth.amqp.pika.TokenConnection`'s.
    """

    def __init__(self, source: Any, *, host: str = "127.0.0.1", port: int = 5672,
                 settings: BrokerSettings | None = None,
                 asleep: Callable[[float], Coroutine[Any, Any, Any]] = asyncio.sleep) -> None:
        self.host = host
        self.port = port
        self.binding = TokenBinding(source, settings or BrokerSettings())
        self._asleep = asleep
        self._renewer: asyncio.Task[None] | None = None
        self.connection: Any = None
        """The open connection, None before :meth:`open` and after :meth:`close`."""
        self.reconnects = 0
        """Connections opened again after a drop (by :meth:`run`)."""

    @property
    def renewals(self) -> int:
        """``update-secret`` calls that succeeded, over every connection opened."""
        return self.binding.renewal.renewals

    async def open(self) -> Any:
        """A new connection with a token from the cache and its renewal task running."""
        await self.close()
        token = await self.binding.atoken()
        s = self.binding.settings
        try:
            conn = await _aio_pika.connect(
                host=self.host, port=self.port, virtualhost=s.virtual_host,
                login=self.binding.username(token), password=token,
                timeout=10, client_properties={"connection_name": "svcauth"},
                heartbeat=s.heartbeat)
        except _aiormq_errors.ProbableAuthenticationError:
            raise self.binding.login_refused(token, 403) from None
        except _aiormq_errors.ConnectionNotAllowed:
            raise self.binding.login_refused(token, 530) from None
        except _aiormq_errors.InvalidFrameError as exc:
            # aiormq's answer to a Connection.Close instead of OpenOk: the virtual host was
            # refused (530) after the login was accepted.
            if "Connection.Close" not in str(exc):
                raise
            raise self.binding.login_refused(token, 530) from None
        self.binding.opened(token)
        self.connection = conn
        self._renewer = asyncio.get_running_loop().create_task(self._renew(conn))
        return conn

    async def _renew(self, conn: Any) -> None:
        while not conn.is_closed:
            await self._asleep(self.binding.delay())
            try:
                secret = await self.binding.alook()
            except SvcAuthError:
                continue  # counted by the binding; looked at again after retry_step
            if secret is None or conn.is_closed:
                continue
            try:
                await conn.update_secret(secret, reason="svcauth: token renewed", timeout=10)
            except _DROPS:
                return  # the connection is going; run() opens a new one
            self.binding.renewed(secret)

    async def close(self) -> None:
        """Stop renewing and close the connection (if any)."""
        task, self._renewer = self._renewer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        conn, self.connection = self.connection, None
        if conn is not None and not conn.is_closed:
            with contextlib.suppress(Exception):
                await conn.close()

    def explain(self, exc: BaseException, operation: str) -> SvcAuthError | None:
        """The svcauth error behind a channel close on ``operation``, None when no refusal."""
        if isinstance(exc, _aiormq_errors.ChannelAccessRefused):
            return self.binding.operation_refused(403, str(exc), operation)
        return None

    @contextlib.asynccontextmanager
    async def refusals(self, operation: str) -> AsyncIterator[None]:
        """Within the block, a broker refusal of ``operation`` raises its svcauth error."""
        try:
            yield
        except _aiormq_errors.ChannelAccessRefused as exc:
            err = self.explain(exc, operation)
            if err is None:
                raise
            raise err from None

    async def run(self, session: Callable[[Any], Awaitable[None]], *,
                  operation: str = "consume", stop: Callable[[], bool] = lambda: False,
                  backoff: Backoff | None = None, max_attempts: int | None = None) -> None:
        """Await ``session(connection)`` until it returns, on a fresh connection after each
        drop; the same rules as :meth:`svcauth.amqp.pika.TokenConnection.run`."""
        backoff = backoff or Backoff(base=0.25, cap=5.0)
        failures, first = 0, True
        try:
            while not stop():
                try:
                    conn = await self.open()
                except (*_DROPS, SvcAuthError) as exc:
                    if isinstance(exc, SvcAuthError) and not self.binding.retryable(exc):
                        raise
                    failures += 1
                    if max_attempts is not None and failures >= max_attempts:
                        raise
                    await self._asleep(backoff.delay(failures - 1, self.binding.rng.random()))
                    continue
                if not first:
                    self.reconnects += 1
                first, failures = False, 0
                try:
                    await session(conn)
                    return
                except _aiormq_errors.ChannelAccessRefused as exc:
                    err = self.explain(exc, operation)
                    if err is not None and not self.binding.retryable(err):
                        raise err from None
                except _DROPS:
                    pass
        finally:
            await self.close()
