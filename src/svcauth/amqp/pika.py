"""``pika`` shell: a blocking RabbitMQ connection whose password is the caller's service
token, renewed on the open connection with ``connection.update-secret``.

::

    from svcauth.caller import from_env
    from svcauth.amqp.pika import TokenConnection

    broker = TokenConnection(from_env(), host="127.0.0.1", port=5672)
    with broker.open() as conn:                 # a pika.BlockingConnection
        channel = conn.channel()
        with broker.refusals("publish"):        # 403 -> ForbiddenError(insufficient_scope)
            channel.basic_publish("orders", "", b"...")

    broker.run(session)    # session(conn) again on a fresh connection after every drop

Renewal runs inside pika's own I/O loop (``call_later``), so it happens while the
application is in ``process_data_events``/``start_consuming``/any blocking call, never from
another thread (a ``BlockingConnection`` is not thread-safe).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

try:
    import pika as _pika  # type: ignore[import-untyped]
    import pika.exceptions as _pika_errors  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("svcauth.amqp.pika needs pika: install svcauth[amqp]") from exc

from .._errors import SvcAuthError
from ..caller._policy import Backoff
from ._connection import BrokerSettings, TokenBinding

__all__ = ["TokenConnection"]


def _close_code(exc: BaseException) -> int | None:
    if isinstance(exc, _pika_errors.ProbableAuthenticationError):
        return 403
    if isinstance(exc, _pika_errors.ProbableAccessDeniedError):
        return 530
    for arg in (exc, *getattr(exc, "args", ())):
        if isinstance(arg, _pika_errors.ConnectionClosedByBroker):
            return int(arg.reply_code)
    return None


class TokenConnection:
    """Opens pika connections authenticated by ``source`` and keeps their token current.

    ``source`` is a :class:`~svcauth.caller.CachingTokenSource` (the same one HTTP calls
    use: the connection adds no token request of its own). Refusals raise svcauth errors:
    :class:`~svcauth.InvalidTokenError` (``audience_mismatch``, ``token_expired``,
    ``invalid_token``) or :class:`~svcauth.ForbiddenError` (``insufficient_scope``, with
    ``required`` naming the scope).
    """

    def __init__(self, source: Any, *, host: str = "127.0.0.1", port: int = 5672,
                 settings: BrokerSettings | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.host = host
        self.port = port
        self.binding = TokenBinding(source, settings or BrokerSettings())
        self._sleep = sleep
        self.reconnects = 0
        """Connections opened again after a drop (by :meth:`run`)."""

    @property
    def renewals(self) -> int:
        """``update-secret`` calls that succeeded, over every connection opened."""
        return self.binding.renewal.renewals

    def _parameters(self, token: str) -> Any:
        s = self.binding.settings
        return _pika.ConnectionParameters(
            host=self.host, port=self.port, virtual_host=s.virtual_host,
            credentials=_pika.PlainCredentials(self.binding.username(token), token),
            heartbeat=s.heartbeat, connection_attempts=1, blocked_connection_timeout=None)

    def open(self) -> Any:
        """A new ``pika.BlockingConnection`` with a token from the cache and renewal armed.

        Raises the svcauth error of a refused login, ``TokenError`` when no token could be
        had, ``pika.exceptions.AMQPConnectionError`` when the broker is unreachable.
        """
        token = self.binding.token()
        try:
            conn = _pika.BlockingConnection(self._parameters(token))
        except _pika_errors.AMQPConnectionError as exc:
            code = _close_code(exc)
            if code is None:
                raise
            raise self.binding.login_refused(token, code) from None
        self.binding.opened(token)
        self._arm(conn)
        return conn

    def _arm(self, conn: Any) -> None:
        def look() -> None:
            if not conn.is_open:
                return
            try:
                secret = self.binding.look()
            except SvcAuthError:
                secret = None  # counted by the binding; looked at again after retry_step
            if secret is not None:
                try:
                    conn.update_secret(secret, "svcauth: token renewed")
                except _pika_errors.AMQPError:
                    return  # the connection is going; run() opens a new one
                self.binding.renewed(secret)
            conn.call_later(self.binding.delay(), look)

        conn.call_later(self.binding.delay(), look)

    def explain(self, exc: BaseException, operation: str) -> SvcAuthError | None:
        """The svcauth error behind a pika channel close on ``operation`` (``publish``,
        ``consume``, ``get``, ``declare``), None when it was no refusal."""
        if isinstance(exc, _pika_errors.ChannelClosedByBroker):
            return self.binding.operation_refused(int(exc.reply_code), str(exc.reply_text),
                                                  operation)
        return None

    @contextlib.contextmanager
    def refusals(self, operation: str) -> Iterator[None]:
        """Within the block, a broker refusal of ``operation`` raises its svcauth error."""
        try:
            yield
        except _pika_errors.ChannelClosedByBroker as exc:
            err = self.explain(exc, operation)
            if err is None:
                raise
            raise err from None

    def run(self, session: Callable[[Any], None], *, operation: str = "consume",
            stop: Callable[[], bool] = lambda: False, backoff: Backoff | None = None,
            max_attempts: int | None = None) -> None:
        """Call ``session(connection)`` until it returns, on a fresh connection (and a
        token from the cache) after each drop; backoff between failed opens.

        A permanent refusal (audience, scope, unverifiable token) is raised at once; an
        expired token or an unreachable broker or identity provider is retried.
        ``max_attempts`` bounds consecutive failed opens (None: no bound).
        """
        backoff = backoff or Backoff(base=0.25, cap=5.0)
        failures = 0
        first = True
        while not stop():
            try:
                conn = self.open()
            except (_pika_errors.AMQPConnectionError, OSError, SvcAuthError) as exc:
                if isinstance(exc, SvcAuthError) and not self.binding.retryable(exc):
                    raise
                failures += 1
                if max_attempts is not None and failures >= max_attempts:
                    raise
                self._sleep(backoff.delay(failures - 1, self.binding.rng.random()))
                continue
            if not first:
                self.reconnects += 1
            first, failures = False, 0
            try:
                session(conn)
                return
            except _pika_errors.ChannelClosedByBroker as exc:
                err = self.explain(exc, operation)
                if err is not None and not self.binding.retryable(err):
                    raise err from None
            except (_pika_errors.AMQPConnectionError, _pika_errors.AMQPChannelError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    if conn.is_open:
                        conn.close()
