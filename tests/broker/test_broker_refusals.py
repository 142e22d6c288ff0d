"""The broker refuses what a token does not grant, and each refusal is an svcauth error with
its exact code and a message naming what was missing. Real node, real tokens from the
embedded provider (or minted by it for the shapes no realm client has)."""

from __future__ import annotations

import pytest
from broker_kit import StaticSource, token_source

from mockmart.topology import EXCHANGE, QUEUE
from svcauth import ForbiddenError, InvalidTokenError
from svcauth.amqp.aio_pika import AsyncTokenConnection
from svcauth.amqp.pika import TokenConnection

pytestmark = pytest.mark.broker

LOGIN_ROWS = [
    # (name, client, minted claims or None for a real token, error type, code, in message)
    ("no broker role: rabbitmq not in aud", "reporting-job", None, InvalidTokenError,
     "audience_mismatch", "expected 'rabbitmq' (its resource_server_id) in aud"),
    ("another client without broker role", "cart-reminder-job", None, InvalidTokenError,
     "audience_mismatch", "in aud, found ['notification-service', 'account']"),
    ("aud rabbitmq but no broker scope", "reporting-job", {"aud": ["rabbitmq"]},
     ForbiddenError, "insufficient_scope", "expected at least one rabbitmq.<permission>"),
    ("expired token", "order-events-worker", {"exp": 1_000_000_000, "iat": 999_999_000},
     InvalidTokenError, "token_expired", "expected a token valid now, found one expired"),
    ("scopes of another resource server", "reporting-job",
     {"aud": ["rabbitmq"], "rabbitmq_scopes": ["other.read:*/*"]}, ForbiddenError,
     "insufficient_scope", "found []"),
]


def _source(idp, env, client, claims):
    if claims is None:
        return token_source(idp.token_endpoint, client, env)
    return StaticSource(idp.mint_token(client, extra_claims=claims))


@pytest.mark.parametrize(("client", "claims", "error", "code", "text"),
                         [r[1:] for r in LOGIN_ROWS], ids=[r[0] for r in LOGIN_ROWS])
def test_login_refusal_names_what_the_token_lacks(broker, broker_idp, broker_env, client,
                                                  claims, error, code, text) -> None:
    conn = TokenConnection(_source(broker_idp, broker_env, client, claims), port=broker.port)
    with pytest.raises(error) as caught:
        conn.open()
    assert caught.value.code == code
    assert text in caught.value.message
    assert f"client {client!r}" in caught.value.message
    assert "eyJ" not in caught.value.message


@pytest.mark.anyio
@pytest.mark.parametrize(("client", "claims", "error", "code", "text"),
                         [r[1:] for r in LOGIN_ROWS[:3]], ids=[r[0] for r in LOGIN_ROWS[:3]])
async def test_async_login_refusal_has_the_same_codes(broker, broker_idp, broker_env, client,
                                                      claims, error, code, text) -> None:
    conn = AsyncTokenConnection(_source(broker_idp, broker_env, client, claims),
                                port=broker.port)
    with pytest.raises(error) as caught:
        await conn.open()
    assert caught.value.code == code
    assert text in caught.value.message


def test_expired_login_drops_the_token_from_the_source(broker, broker_idp) -> None:
    token = broker_idp.mint_token("order-events-worker", lifetime=1, now=1_000_000_000)
    source = StaticSource(token)
    with pytest.raises(InvalidTokenError):
        TokenConnection(source, port=broker.port).open()
    assert source.invalidated == [token]


def test_read_only_worker_cannot_publish(broker, broker_idp, broker_env) -> None:
    conn = TokenConnection(token_source(broker_idp.token_endpoint, "order-events-worker",
                                        broker_env), port=broker.port)
    with conn.open() as c:
        channel = c.channel()
        with pytest.raises(ForbiddenError) as caught, conn.refusals("publish"):
            channel.basic_publish(EXCHANGE, "", b"{}")
            channel.basic_get(QUEUE)  # the refusal arrives with the next round trip
    assert caught.value.code == "insufficient_scope"
    assert caught.value.required == ("rabbitmq.write:*/orders",)
    assert caught.value.message == (
        "the broker refused publish on exchange 'orders' in vhost '/' for client "
        "'order-events-worker': expected a scope granting write on it, such as "
        "rabbitmq.write:*/orders, found ['rabbitmq.read:*/orders']")


def test_write_only_relay_cannot_consume(broker, broker_idp, broker_env) -> None:
    conn = TokenConnection(token_source(broker_idp.token_endpoint, "shop-api", broker_env),
                           port=broker.port)
    with conn.open() as c, pytest.raises(ForbiddenError) as caught, conn.refusals("consume"):
        c.channel().basic_consume(QUEUE, lambda *a: None)
    assert caught.value.code == "insufficient_scope"
    assert caught.value.required == ("rabbitmq.read:*/orders",)
    assert "found ['rabbitmq.write:*/orders']" in caught.value.message


@pytest.mark.anyio
async def test_async_read_only_worker_cannot_publish(broker, broker_idp, broker_env) -> None:
    import aio_pika

    conn = AsyncTokenConnection(token_source(broker_idp.token_endpoint, "order-events-worker",
                                             broker_env), port=broker.port)
    connection = await conn.open()
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE, ensure=False)
        with pytest.raises(ForbiddenError) as caught:
            async with conn.refusals("publish"):
                await exchange.publish(aio_pika.Message(b"{}"), routing_key="", timeout=10)
    finally:
        await conn.close()
    assert caught.value.code == "insufficient_scope"
    assert caught.value.required == ("rabbitmq.write:*/orders",)


def test_relay_and_worker_may_do_their_own_jobs(broker, broker_idp, broker_env) -> None:
    """The positive rows: write for the relay (confirmed), read for the worker."""
    relay = TokenConnection(token_source(broker_idp.token_endpoint, "shop-api", broker_env),
                            port=broker.port)
    worker = TokenConnection(token_source(broker_idp.token_endpoint, "order-events-worker",
                                          broker_env), port=broker.port)
    with relay.open() as r, worker.open() as w:
        pub = r.channel()
        pub.confirm_delivery()
        pub.basic_publish(EXCHANGE, "", b'{"event_id": "refusals-positive"}', mandatory=True)
        channel = w.channel()
        seen = []
        for _ in range(50):
            method, _, body = channel.basic_get(QUEUE, auto_ack=False)
            if method is None:
                break
            channel.basic_ack(method.delivery_tag)
            seen.append(body)
    assert b'{"event_id": "refusals-positive"}' in seen
