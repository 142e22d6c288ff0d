"""``mockmart demo --json`` sends its order events through the broker and says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from broker_kit import in_ci

from mockmart.system.broker_node import BrokerNode
from mockmart.system.demo import CHECKOUTS, expected_refusals

pytestmark = pytest.mark.broker


def test_demo_json_reports_the_broker_leg(tmp_path: Path) -> None:
    if not BrokerNode.available():
        if in_ci():
            pytest.fail("RabbitMQ is required in CI", pytrace=False)
        pytest.skip("RabbitMQ unavailable here")
    done = subprocess.run([sys.executable, "-m", "mockmart.system.cli", "demo", "--json",
                           "--run-dir", str(tmp_path / "demo")], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    broker = report["broker"]
    # The outbox leg's orders plus mario's one confirmed shop checkout (its retry with the
    # same Idempotency-Key, blocked's refusal and the failed payment publish nothing).
    assert report["shop"]["checkout"] == {"status": 201, "retry_status": 201, "same_answer": True}
    events = CHECKOUTS + 1
    assert (broker["published"], broker["consumed"], broker["acknowledged"]) == (
        events, events, events)
    assert (broker["dead_lettered"], broker["duplicates_skipped"]) == (0, 0)
    assert broker["update_secret_renewals"]["order-events-worker"] >= 1
    assert broker["update_secret_renewals"]["shop-api"] == 0  # 300 s tokens, a short run
    assert 2 <= broker["worker_token_requests"] <= broker["worker_token_request_bound"]
    assert (report["emails_delivered"], report["duplicate_emails"]) == (CHECKOUTS, 0)
    assert report["idp_token_requests"]["shop-api"] == 1  # the relay shares shop-api's cache
    assert report["notification_caller"] == "order-events-worker"
    assert report["shop_api_token_claims"]["azp"] == "order-events-worker"
    assert "order-events-worker" in report["trace"]["services"]
    assert {name: (r["status"], r["error"]) for name, r in report["refusals"].items()} == (
        expected_refusals())
    assert report["expectations_failed"] == []
    assert "starting MockMart: RabbitMQ node" in done.stderr
