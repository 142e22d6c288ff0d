"""Broker connections authenticated by service tokens: RabbitMQ's OAuth 2.0 backend.

::

    from svcauth.caller import from_env
    from svcauth.amqp.pika import TokenConnection          # blocking (pika)
    from svcauth.amqp.aio_pika import AsyncTokenConnection  # asyncio (aio-pika)

A connection opens with the caller's access token as its password and sends each new token
the cache hands out with AMQP ``connection.update-secret`` before the old one expires: the
same :class:`~svcauth.caller.CachingTokenSource`, the same refresh schedule and no token
request of its own (:mod:`._renewal`). After a drop it opens again with a token from the
cache. A refusal becomes an svcauth error naming what was missing (:mod:`._refusal`):
``audience_mismatch``, ``insufficient_scope`` (``required`` holds the scope, such as
``rabbitmq.write:*/orders``), ``token_expired``, ``invalid_token``.

Both shells are thin: the schedule, the decisions and the refusal messages are one pure
core (:class:`Renewal`, :func:`login_refusal`, :func:`operation_refusal`). Install with
``pip install svcauth[amqp]`` (pika >= 1.3 and aio-pika >= 8.1, the first releases with
``update_secret``). See docs/broker.md.
"""

from __future__ import annotations

from ._connection import BrokerSettings, TokenBinding
from ._refusal import BrokerAudience, broker_scopes, login_refusal, operation_refusal
from ._renewal import Renewal, RenewalPolicy

__all__ = [
    "BrokerAudience",
    "BrokerSettings",
    "Renewal",
    "RenewalPolicy",
    "TokenBinding",
    "broker_scopes",
    "login_refusal",
    "operation_refusal",
]
