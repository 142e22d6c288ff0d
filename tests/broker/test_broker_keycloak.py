"""The same broker wiring on a real Keycloak 26: the realm file's client-role mapper and
audience give RabbitMQ what it needs, a connection renews its token from the cache with
update-secret, and the refusals read the same.

A copy of the techstore realm (``techstore-broker``) where order-events-worker's tokens
live 10 s, imported through the Admin API; a node of its own trusting that realm's JWKS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from broker_kit import start_node

from kc_admin import KeycloakAdmin
from keycloak_support import REALM_FILE
from mockmart.config import client_secret_variable
from mockmart.system.stack import short_lifespan_realm
from mockmart.topology import EXCHANGE, QUEUE
from svcauth import ForbiddenError, InvalidTokenError
from svcauth.amqp.pika import TokenConnection
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
)

# Keycloak starts in this module's first fixture: minutes on a loaded machine.
pytestmark = [pytest.mark.keycloak, pytest.mark.broker, pytest.mark.timeout(900)]

LIFETIME = 10
REALM = "techstore-broker"


class CountingSource(ClientCredentialsSource):
    """Counts the token requests it makes."""

    fetches = 0

    def fetch(self):  # type: ignore[no-untyped-def]
        self.fetches += 1
        return super().fetch()


@pytest.fixture(scope="module")
def kc_realm(keycloak, keycloak_env, tmp_path_factory) -> Iterator:
    admin = KeycloakAdmin(keycloak)
    realm_file = short_lifespan_realm(REALM_FILE, tmp_path_factory.mktemp("kc") / "r.json",
                                      seconds=LIFETIME, clients=("order-events-worker",))
    admin.delete_realm(REALM)
    endpoints = admin.import_realm_copy(realm_file, keycloak_env, REALM)
    try:
        yield endpoints
    finally:
        admin.delete_realm(REALM)
        admin.close()


@pytest.fixture(scope="module")
def kc_broker(kc_realm, tmp_path_factory):
    node = start_node(kc_realm.jwks_uri, tmp_path_factory.mktemp("rabbitmq-kc"))
    try:
        yield node
    finally:
        node.stop()


def _source(endpoints, env, client_id: str) -> tuple[CachingTokenSource, CountingSource]:
    raw = CountingSource(ClientConfig(
        client_id=client_id, auth=ClientSecretBasic(env[client_secret_variable(client_id)]),
        token_endpoint=endpoints.token_endpoint))
    return CachingTokenSource(raw), raw


def test_keycloak_token_connection_renews_with_update_secret_from_the_cache(
        kc_broker, kc_realm, keycloak_env) -> None:
    source, raw = _source(kc_realm, keycloak_env, "order-events-worker")
    conn = TokenConnection(source, port=kc_broker.port)
    started = time.monotonic()
    with conn.open() as c:
        while time.monotonic() - started < 2.3 * LIFETIME:  # two refreshes, the third not due
            c.process_data_events(time_limit=0.2)
        settle = time.monotonic() + 10.0  # a fetched token's update-secret still on its way
        while conn.renewals != raw.fetches - 1 and time.monotonic() < settle:
            c.process_data_events(time_limit=0.2)
        channel = c.channel()  # a new channel, 1.3 lifetimes past the first token
        channel.basic_get(QUEUE, auto_ack=False)
        assert c.is_open and channel.is_open
    elapsed = time.monotonic() - started
    assert conn.renewals == raw.fetches - 1 >= 2
    assert raw.fetches <= math.floor(elapsed / (0.8 * LIFETIME)) + 1


def test_keycloak_tokens_refused_where_the_realm_grants_nothing(
        kc_broker, kc_realm, keycloak_env) -> None:
    source, _ = _source(kc_realm, keycloak_env, "reporting-job")
    with pytest.raises(InvalidTokenError) as caught:
        TokenConnection(source, port=kc_broker.port).open()
    assert caught.value.code == "audience_mismatch"

    worker, _ = _source(kc_realm, keycloak_env, "order-events-worker")
    conn = TokenConnection(worker, port=kc_broker.port)
    with conn.open() as c:
        channel = c.channel()
        with pytest.raises(ForbiddenError) as refused, conn.refusals("publish"):
            channel.basic_publish(EXCHANGE, "", b"{}")
            channel.basic_get(QUEUE)
    assert refused.value.code == "insufficient_scope"
    assert refused.value.required == ("rabbitmq.write:*/orders",)
    assert "found ['rabbitmq.read:*/orders']" in refused.value.message


def test_keycloak_relay_publishes_with_confirms(kc_broker, kc_realm, keycloak_env) -> None:
    relay, _ = _source(kc_realm, keycloak_env, "shop-api")
    conn = TokenConnection(relay, port=kc_broker.port)
    with conn.open() as c:
        channel = c.channel()
        channel.confirm_delivery()
        channel.basic_publish(EXCHANGE, "", b'{"event_id": "kc"}', mandatory=True)
        assert channel.is_open
