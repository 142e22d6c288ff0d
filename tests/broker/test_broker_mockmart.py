"""MockMart on the broker: checkouts -> outbox -> relay (publisher confirms) -> orders ->
order-events worker (manual acks, its own token) -> notification-service -> one e-mail each.
A poison message is dead-lettered after the delivery limit. Embedded provider; the worker's
tokens live WORKER_LIFETIME s."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pika
import pytest
from broker_kit import WORKER_LIFETIME, queue_depth, start_stack
from delivery_kit import assert_each_order_mailed_once, checkout, wait_for

from mockmart.config import REALM_FILE
from mockmart.system.stack import StackOptions, short_lifespan_realm
from mockmart.topology import DEAD_LETTER, EXCHANGE, QUEUE

pytestmark = pytest.mark.broker

LIMIT = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator:
    run = tmp_path_factory.mktemp("mockmart-broker")
    realm = short_lifespan_realm(REALM_FILE, run / "realm.json", seconds=WORKER_LIFETIME,
                                 clients=("order-events-worker",))
    s = start_stack(StackOptions(run_dir=run / "run", realm_file=realm, broker=True,
                                 delivery_limit=LIMIT, retry_max_delay=1.0))
    try:
        yield s
    finally:
        s.stop()


def test_orders_go_through_the_broker_and_are_mailed_once(stack) -> None:
    token = stack.user_token()
    with httpx.Client(timeout=10) as http:
        orders = [checkout(http, stack.shop.url, token) for _ in range(30)]
    assert_each_order_mailed_once(stack, orders)
    wait_for(lambda: stack.broker.worker_health()["worker"]["acknowledged"] >= 30, 30, "acks")
    # shop-api marks a row done after the publisher confirm, on a thread of its own: the
    # worker can have mailed and acked before that.
    wait_for(lambda: stack.shop_health()["outbox"]["done"] >= 30, 30, "outbox rows done")
    worker = stack.broker.worker_health()["worker"]
    shop = stack.shop_health()
    assert shop["broker"]["published"] == 30
    assert shop["outbox"]["pending"] == 0 and shop["outbox"]["done"] == 30
    assert (worker["consumed"], worker["acknowledged"], worker["duplicates"]) == (30, 30, 0)
    assert worker["dead_lettered"] == 0
    assert queue_depth(stack.broker.node, QUEUE) == 0


def test_poison_message_is_dead_lettered_after_the_delivery_limit(stack) -> None:
    before = stack.broker.worker_health()["worker"]
    mails = stack.mailbox().delivered
    # Published as the relay would (shop-api's token, rabbitmq.write:*/orders) but malformed.
    from svcauth.amqp.pika import TokenConnection
    from svcauth.caller import from_env

    relay = from_env({"KEYCLOAK_URL": stack.idp.base_url, "KEYCLOAK_REALM": "techstore",
                      "KEYCLOAK_CLIENT_ID": "shop-api",
                      "KEYCLOAK_CLIENT_SECRET": stack.options.env["SHOP_API_CLIENT_SECRET"]})
    with TokenConnection(relay, port=stack.broker.node.port).open() as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(EXCHANGE, "", json.dumps({"eventId": "poison-1"}).encode(),
                              pika.BasicProperties(message_id="poison-1"), mandatory=True)
    wait_for(lambda: queue_depth(stack.broker.node, DEAD_LETTER) == 1, 60, "dead-lettered")
    after = stack.broker.worker_health()["worker"]
    assert after["poison_returns"] - before["poison_returns"] == LIMIT + 1
    assert after["dead_lettered"] - before["dead_lettered"] == 1
    assert after["acknowledged"] == before["acknowledged"]
    assert stack.mailbox().delivered == mails
    assert queue_depth(stack.broker.node, QUEUE) == 0
