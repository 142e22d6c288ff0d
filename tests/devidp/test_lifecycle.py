"""Running the provider: loopback-only binding, stop and restart on the same port with
the same keys, counters (in-process and over HTTP), injected faults, and safe logs."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

import httpx
import pytest
from devidp_support import assertion, claims_of, jwt_form, post, secret_form

from mockmart.system.code_login import Browser, code_flow
from svcauth._errors import ConfigurationError
from svcauth.devidp import DevIdP, Realm


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_non_loopback_bind_is_refused(realm: Realm, host: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        DevIdP(realm, host=host)
    assert info.value.code == "config_invalid"
    assert "insecure_bind_any" in info.value.message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.2"])
def test_loopback_hosts_are_accepted(realm: Realm, host: str) -> None:
    DevIdP(realm, host=host)  # constructing binds nothing; no error is the outcome


def test_insecure_bind_any_allows_it_and_warns(realm: Realm,
                                               caplog: pytest.LogCaptureFixture) -> None:
    # Constructed only: tests never bind beyond loopback.
    caplog.set_level(logging.WARNING, logger="svcauth.devidp")
    provider = DevIdP(realm, host="0.0.0.0", insecure_bind_any=True)
    assert provider.base_url == "http://0.0.0.0:0"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "devidp will bind non-loopback 0.0.0.0 (insecure_bind_any): anyone who can reach it "
        "gets tokens for the dev secrets"]


def test_restart_on_the_same_port_keeps_the_keys(fresh_idp: DevIdP,
                                                 dev_env: dict[str, str]) -> None:
    port, kid = fresh_idp.port, fresh_idp.active_kid
    with httpx.Client(timeout=5) as client:
        assert client.get(fresh_idp.jwks_uri).status_code == 200
        fresh_idp.stop()
        with pytest.raises(httpx.TransportError):
            client.get(fresh_idp.jwks_uri)
        fresh_idp.start()
        assert fresh_idp.port == port
        response = client.post(fresh_idp.token_endpoint, data=secret_form(dev_env, "shop-api"))
    assert response.status_code == 200
    assert fresh_idp.jwks()["keys"][0]["kid"] == kid == fresh_idp.active_kid


def test_stats_count_requests_per_client_and_grant(fresh_idp: DevIdP,
                                                   dev_env: dict[str, str]) -> None:
    post(fresh_idp.token_endpoint, secret_form(dev_env, "shop-api"))
    post(fresh_idp.token_endpoint, secret_form(dev_env, "shop-api"))
    post(fresh_idp.token_endpoint, {**secret_form(dev_env, "shop-api"), "client_secret": "x"})
    post(fresh_idp.token_endpoint, jwt_form(assertion(fresh_idp.issuer)))
    browser = Browser(fresh_idp.issuer)  # alice logs in at the storefront (code + PKCE)
    code_flow(browser, "storefront", "http://127.0.0.1:8083/callback", "alice",
              dev_env["ALICE_PASSWORD"], client_secret=dev_env["STOREFRONT_CLIENT_SECRET"])
    browser.close()
    httpx.get(fresh_idp.jwks_uri, timeout=5)
    httpx.get(fresh_idp.jwks_uri, timeout=5)
    httpx.get(fresh_idp.discovery_url, timeout=5)
    post(fresh_idp.introspection_endpoint, {"token": "x"},
         auth=("notification-service", dev_env["NOTIFICATION_SERVICE_CLIENT_SECRET"]))
    expected = {
        "token_requests": {"inventory-sync": {"client_credentials": 1},
                           "shop-api": {"client_credentials": 3},
                           "storefront": {"authorization_code": 1}},
        "token_requests_total": 5, "jwks_fetches": 2, "discovery_fetches": 1,
        "introspections": 1, "errors": {"unauthorized_client": 1}, "faults_served": {}}
    assert fresh_idp.stats() == expected
    over_http = httpx.get(f"{fresh_idp.issuer}/devidp/stats", timeout=5).json()
    assert over_http == expected
    fresh_idp.reset_stats()
    assert fresh_idp.stats()["token_requests_total"] == 0


@pytest.mark.parametrize(("endpoint", "status", "retry_after"), [
    ("token", 503, 7), ("token", 500, None), ("certs", 429, 2), ("discovery", 500, None)])
def test_fault_answers_the_status_for_the_given_times(
        fresh_idp: DevIdP, dev_env: dict[str, str], endpoint: str, status: int,
        retry_after: int | None) -> None:
    fresh_idp.set_fault(endpoint, status=status, retry_after=retry_after, times=2)

    def call() -> httpx.Response:
        if endpoint == "token":
            return post(fresh_idp.token_endpoint, secret_form(dev_env, "shop-api"))
        url = fresh_idp.jwks_uri if endpoint == "certs" else fresh_idp.discovery_url
        return httpx.get(url, timeout=5)

    first, second, third = call(), call(), call()
    assert (first.status_code, second.status_code, third.status_code) == (status, status, 200)
    assert first.headers.get("retry-after") == (str(retry_after) if retry_after else None)
    assert fresh_idp.stats()["faults_served"] == {endpoint: 2}


def test_fault_without_times_lasts_until_cleared(fresh_idp: DevIdP) -> None:
    fresh_idp.set_fault("certs", status=500)
    codes = [httpx.get(fresh_idp.jwks_uri, timeout=5).status_code for _ in range(3)]
    fresh_idp.clear_faults()
    codes.append(httpx.get(fresh_idp.jwks_uri, timeout=5).status_code)
    assert codes == [500, 500, 500, 200]


def test_delay_fault_holds_the_answer(fresh_idp: DevIdP) -> None:
    fresh_idp.set_fault("certs", delay=10.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(fresh_idp.jwks_uri, timeout=2.0)
    # Counted by the server's handler thread, which a loaded machine may run late.
    deadline = time.monotonic() + 10
    while fresh_idp.stats()["faults_served"] != {"certs": 1} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fresh_idp.stats()["faults_served"] == {"certs": 1}
    assert httpx.get(fresh_idp.jwks_uri, timeout=10).status_code == 200


def test_stop_wakes_a_delayed_request(fresh_idp: DevIdP) -> None:
    fresh_idp.set_fault("token", delay=60.0, status=500)
    done = threading.Event()

    def call() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(fresh_idp.token_endpoint, data={"grant_type": "x"}, timeout=30)
        done.set()

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while fresh_idp.stats()["faults_served"].get("token") != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    fresh_idp.stop()
    assert done.wait(10)


def test_unknown_fault_endpoint_is_refused(fresh_idp: DevIdP) -> None:
    with pytest.raises(ValueError, match="introspect"):
        fresh_idp.set_fault("introspect", status=500)


def test_logs_hold_no_secret_assertion_or_token(fresh_idp: DevIdP, dev_env: dict[str, str],
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="svcauth.devidp")
    ok = post(fresh_idp.token_endpoint, secret_form(dev_env, "shop-api")).json()
    client_assertion = assertion(fresh_idp.issuer)
    post(fresh_idp.token_endpoint, jwt_form(client_assertion))
    post(fresh_idp.token_endpoint, {**secret_form(dev_env, "shop-api"), "client_secret": "bad"})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /realms/techstore/protocol/openid-connect/token client_id=shop-api " \
           "grant=client_credentials status=200" in text
    assert "client_id=shop-api grant=client_credentials status=401" in text
    for secret in (dev_env["SHOP_API_CLIENT_SECRET"], "bad", ok["access_token"][-20:],
                   client_assertion[-20:]):
        assert secret not in text


def test_repr_holds_no_secret(realm: Realm, dev_env: dict[str, str]) -> None:
    text = repr(realm) + repr(DevIdP(realm))
    assert dev_env["SHOP_API_CLIENT_SECRET"] not in text
    assert dev_env["ALICE_PASSWORD"] not in text


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_serves_on_ipv6_loopback(realm: Realm, dev_env: dict[str, str]) -> None:
    try:
        provider = DevIdP(realm, host="::1").start()
    except ConfigurationError:
        pytest.skip("::1 cannot be bound here")
    with provider:
        assert provider.base_url.startswith("http://[::1]:")
        response = post(provider.token_endpoint, secret_form(dev_env, "shop-api"))
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["clientAddress"] == "::1"
