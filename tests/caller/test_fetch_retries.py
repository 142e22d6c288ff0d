"""ClientCredentialsSource: transient failures recover by retry, permanent ones fail fast."""

from __future__ import annotations

import httpx
import pytest

from svcauth import TokenEndpointError, TokenTransportError

from .fakes import FakeClock, FakeTokenEndpoint, make_source, token_value


def err_500() -> httpx.Response:
    return httpx.Response(500, text="boom")


def err_429() -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "slow_down"})


@pytest.mark.parametrize(("name", "script", "requests"), [
    ("500 then ok", [err_500()], 2),
    ("429 with Retry-After then ok", [err_429()], 2),
    ("read timeout then ok", [httpx.ReadTimeout("t")], 2),
    ("connection refused twice then ok", [httpx.ConnectError("c"), httpx.ConnectError("c")], 3),
    ("mixed", [err_500(), httpx.ReadTimeout("t"), err_429()], 4),
])
def test_transient_failures_recover_by_retry(name: str, script: list[object], requests: int) -> None:
    endpoint = FakeTokenEndpoint(script=list(script))  # type: ignore[arg-type]
    clock = FakeClock()
    token = make_source(endpoint, clock).fetch()
    assert endpoint.count == requests
    assert token.access_token == token_value(requests)


@pytest.mark.anyio
async def test_transient_failures_recover_by_retry_async() -> None:
    endpoint = FakeTokenEndpoint(script=[err_500(), httpx.ReadTimeout("t"), err_429()])
    token = await make_source(endpoint, FakeClock()).afetch()
    assert (endpoint.count, token.access_token) == (4, token_value(4))


def test_retry_after_is_honoured() -> None:
    endpoint = FakeTokenEndpoint(script=[err_429()])
    clock = FakeClock(start=0.0)
    make_source(endpoint, clock).fetch()
    assert clock.now >= 3.0  # slept (on the fake clock) at least what the server asked


def test_retry_after_beyond_the_deadline_fails_without_waiting() -> None:
    endpoint = FakeTokenEndpoint(script=[httpx.Response(429, headers={"Retry-After": "60"})])
    clock = FakeClock(start=0.0)
    with pytest.raises(TokenEndpointError) as info:
        make_source(endpoint, clock).fetch()
    assert (info.value.code, info.value.retry_after, endpoint.count, clock.now) == ("http_429", 60.0, 1, 0.0)


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client", "invalid_scope",
                                   "invalid_grant", "unsupported_grant_type"])
def test_permanent_errors_fail_fast_without_retry(error: str) -> None:
    endpoint = FakeTokenEndpoint(script=[httpx.Response(400 if error != "invalid_client" else 401, json={
        "error": error, "error_description": "the IdP says no"})])
    clock = FakeClock(start=0.0)
    with pytest.raises(TokenEndpointError) as info:
        make_source(endpoint, clock).fetch()
    assert (info.value.code, info.value.error_description, endpoint.count, clock.now) == (
        error, "the IdP says no", 1, 0.0)


def test_endless_outage_gives_up_at_the_deadline_with_transport_error() -> None:
    endpoint = FakeTokenEndpoint(script=[httpx.ConnectError("down")] * 1000)
    clock = FakeClock(start=0.0)
    with pytest.raises(TokenTransportError) as info:
        make_source(endpoint, clock, deadline=10.0).fetch()
    assert info.value.code == "token_endpoint_unreachable"
    assert "within the 10 s deadline" in info.value.message
    assert clock.now <= 10.0
    assert 3 <= endpoint.count < 1000


def test_endless_500s_give_up_at_the_deadline_with_the_last_answer() -> None:
    endpoint = FakeTokenEndpoint(script=[err_500() for _ in range(1000)])
    clock = FakeClock(start=0.0)
    with pytest.raises(TokenEndpointError) as info:
        make_source(endpoint, clock, deadline=5.0).fetch()
    assert (info.value.code, info.value.status) == ("http_500", 500)
    assert clock.now <= 5.0


def test_per_attempt_timeout_is_passed_to_the_client() -> None:
    seen: list[object] = []
    endpoint = FakeTokenEndpoint(on_request=lambda r: seen.append(r.extensions["timeout"]))
    make_source(endpoint, FakeClock(), timeout=2.5).fetch()
    assert seen == [{"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}]
