"""Every MockMart service serves svcauth's metrics in Prometheus text format at ``/metrics``:
token requests by client and outcome, verifications by outcome, refusals by code, the
verified-token cache hit ratio."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from mockmart.system.stack import Stack


def _samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
           **labels: str) -> float | None:
    """The one sample of ``name`` whose labels include ``labels``; None when there is none."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_services_expose_token_requests_verifications_and_refusals(
        make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    user = stack.user_token()
    response = httpx.post(f"{stack.shop.url}/api/checkout", json={}, timeout=30,
                          headers={"Authorization": f"Bearer {user}"})
    assert response.status_code == 201
    end = time.monotonic() + 60
    while stack.mailbox().delivered < 1:
        assert time.monotonic() < end, "the order e-mail never arrived"
        time.sleep(0.2)
    assert stack.notification is not None
    notify = f"{stack.notification.url}/api/notifications/order"
    body: dict[str, Any] = {"orderId": "o-metrics", "userEmail": "a@example.com"}
    assert httpx.post(notify, json=body, timeout=10).status_code == 401
    assert httpx.post(notify, json=body, timeout=10,
                      headers={"Authorization": f"Bearer {user}"}).status_code == 403

    shop = _samples(stack.shop.url)
    # One fetch of shop-api's own token for the one delivery (a miss, nothing cached before).
    assert _value(shop, "svcauth_client_token_requests_total",
                  svcauth_client_id="shop-api", svcauth_outcome="miss") == 1
    notification = _samples(stack.notification.url)
    assert _value(notification, "svcauth_receiver_verifications_total",
                  svcauth_outcome="valid", svcauth_cached="false") == 2  # shop-api's and alice's
    assert _value(notification, "svcauth_receiver_refusals_total",
                  error_type="token_missing", http_response_status_code="401") == 1
    refused_user = [v for (n, ls), v in notification.items()
                    if n == "svcauth_receiver_refusals_total"
                    and ("http_response_status_code", "403") in ls]
    assert refused_user == [1]
    ratio = _value(notification, "svcauth_receiver_verify_cache_hit_ratio")
    assert ratio is not None and 0 <= ratio < 1
