"""Connections authenticated by service tokens stay usable past their token's lifetime:
``update-secret`` with each new token the cache hands out, and no token request of their own
(the cache's bound: floor(T / (0.8 * lifetime)) + 1 over T seconds).

The worker's tokens live WORKER_LIFETIME (10) seconds in this session; each test keeps one
connection open for about 2.3 lifetimes (two refreshes, at 0.8-0.85 of each lifetime, and
the third not yet due) and then uses it. A refresh the cache has made but the connection has
not sent yet is waited for (bounded) before the counts are compared.
"""

from __future__ import annotations

import math
import time

import pika
import pytest
from broker_kit import WORKER_LIFETIME, StaticSource, token_requests, token_source

from mockmart.topology import QUEUE
from svcauth.amqp import BrokerSettings, RenewalPolicy
from svcauth.amqp.aio_pika import AsyncTokenConnection
from svcauth.amqp.pika import TokenConnection

pytestmark = pytest.mark.broker

RUN = 2.3 * WORKER_LIFETIME
SETTLE = 10.0  # at most, for a fetched token's update-secret to go out


def _bound(seconds: float) -> int:
    return math.floor(seconds / (0.8 * WORKER_LIFETIME)) + 1


def test_pika_connection_outlives_its_tokens_with_update_secret_from_the_cache(
        broker, broker_idp, broker_env) -> None:
    source = token_source(broker_idp.token_endpoint, "order-events-worker", broker_env)
    before = token_requests(broker_idp, "order-events-worker")
    conn = TokenConnection(source, port=broker.port)
    started = time.monotonic()
    with conn.open() as c:
        c.channel().basic_get(QUEUE, auto_ack=False)
        while time.monotonic() - started < RUN:
            c.process_data_events(time_limit=0.2)
        settle = time.monotonic() + SETTLE
        while conn.renewals != token_requests(broker_idp, "order-events-worker") - before - 1 \
                and time.monotonic() < settle:
            c.process_data_events(time_limit=0.2)
        # The first token expired 1.3 lifetimes ago: a new channel's read works only on a
        # renewed secret (see the control test below).
        channel = c.channel()
        method, _, _ = channel.basic_get(QUEUE, auto_ack=False)
        assert c.is_open and channel.is_open
    elapsed = time.monotonic() - started
    fetched = token_requests(broker_idp, "order-events-worker") - before
    assert conn.renewals == fetched - 1 >= 2
    assert fetched <= _bound(elapsed)
    assert method is None or method.delivery_tag >= 1


@pytest.mark.anyio
async def test_aio_pika_connection_outlives_its_tokens_with_update_secret_from_the_cache(
        broker, broker_idp, broker_env) -> None:
    import asyncio

    source = token_source(broker_idp.token_endpoint, "order-events-worker", broker_env)
    before = token_requests(broker_idp, "order-events-worker")
    conn = AsyncTokenConnection(source, port=broker.port)
    started = time.monotonic()
    connection = await conn.open()
    try:
        await asyncio.sleep(RUN)
        settle = time.monotonic() + SETTLE
        while conn.renewals != token_requests(broker_idp, "order-events-worker") - before - 1 \
                and time.monotonic() < settle:
            await asyncio.sleep(0.1)
        channel = await connection.channel()
        queue = await channel.get_queue(QUEUE, ensure=False)
        await queue.get(fail=False, no_ack=False)  # read on the queue, past the first token
        assert not channel.is_closed and not connection.is_closed
    finally:
        await conn.close()
    elapsed = time.monotonic() - started
    fetched = token_requests(broker_idp, "order-events-worker") - before
    assert conn.renewals == fetched - 1 >= 2
    assert fetched <= _bound(elapsed)


def test_without_update_secret_the_broker_refuses_once_the_token_expired(
        broker, broker_idp) -> None:
    """The control of the two tests above: a token that is never renewed stops working."""
    token = broker_idp.mint_token("order-events-worker", lifetime=3)
    # A renewal policy that never looks again within the test: nothing is sent.
    conn = TokenConnection(StaticSource(token), port=broker.port,
                           settings=BrokerSettings(renewal=RenewalPolicy(
                               min_step=600, max_step=600, retry_step=600)))
    with conn.open() as c:
        channel = c.channel()
        channel.basic_get(QUEUE, auto_ack=False)
        time.sleep(4.2)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as caught:
            c.channel().basic_get(QUEUE, auto_ack=False)
    err = conn.explain(caught.value, "get")
    assert caught.value.reply_code == 403
    assert err is not None and err.code == "token_expired"
    assert conn.renewals == 0
