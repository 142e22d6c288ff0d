"""No 401 storm: a receiver that refuses every token costs at most one token refresh per
cooldown; a receiver whose keys rotated gets exactly one refresh and a resent request.

Token requests are counted at the embedded provider (real loopback sockets end to end);
the caller's clock is injected and moved by hand, nothing sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import requests

import svcauth.httpx
import svcauth.requests
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    RefreshPolicy,
    UnauthorizedVerdict,
    unauthorized_verdict,
)
from svcauth.devidp import DevIdP, load_env_file

from .fakes import FakeClock
from .receivers import Receiver, serving

ROOT = Path(__file__).resolve().parents[2]
REALM = ROOT / "deploy" / "keycloak" / "techstore-realm.json"
ENV = load_env_file(ROOT / "deploy" / "dev.env")
NEVER = float("-inf")
CHALLENGES = [None, 'Bearer realm="orders", error="invalid_token"']
CHALLENGE_IDS = ["no WWW-Authenticate", "invalid_token challenge"]


# -- the pure rule, one row per case ---------------------------------------------------

# (name, refused, cached, issued_at, last_refresh, now, reason, wait)
VERDICTS = [
    ("stale cached token, never refreshed: refresh", "A", "A", 0.0, NEVER, 60.0, "refresh", 0.0),
    ("stale cached token, cooldown over: refresh", "A", "A", 0.0, 20.0, 50.0, "refresh", 0.0),
    ("token requested 4.9 s ago is fresh", "A", "A", 10.0, NEVER, 14.9, "fresh", 0.0),
    ("token requested exactly 5 s ago is not fresh", "A", "A", 10.0, NEVER, 15.0, "refresh", 0.0),
    ("refresh 10 s ago: cooldown, 20 s left", "A", "A", 0.0, 50.0, 60.0, "cooldown", 20.0),
    ("fresh wins over cooldown", "A", "A", 58.0, 50.0, 60.0, "fresh", 0.0),
    ("a newer token is cached: resend with it", "A", "B", 59.0, 55.0, 60.0, "newer", 0.0),
    ("cache emptied by a refresh: resend joins the fetch", "A", "", None, 60.0, 60.0, "newer", 0.0),
]


@pytest.mark.parametrize(("name", "refused", "cached", "issued_at", "last", "now", "reason",
                          "wait"), VERDICTS, ids=[v[0] for v in VERDICTS])
def test_unauthorized_verdict_table(name: str, refused: str, cached: str,
                                    issued_at: float | None, last: float, now: float,
                                    reason: str, wait: float) -> None:
    verdict = unauthorized_verdict(refused=refused, cached=cached, issued_at=issued_at,
                                   last_refresh=last, now=now, cooldown=30.0, fresh=5.0)
    assert verdict == UnauthorizedVerdict(reason, wait)
    assert verdict.retry is (reason in ("refresh", "newer"))
    assert verdict.refresh is (reason == "refresh")


def test_policy_defaults_and_refusals() -> None:
    policy = RefreshPolicy()
    assert (policy.unauthorized_cooldown, policy.unauthorized_fresh) == (30.0, 5.0)
    for bad in (-1.0, float("nan")):
        with pytest.raises(Exception, match="unauthorized_cooldown"):
            RefreshPolicy(unauthorized_cooldown=bad)


# -- end to end: real receiver, real provider ------------------------------------------

@pytest.fixture
def idp() -> Iterator[DevIdP]:
    with DevIdP(REALM, env=ENV) as provider:
        yield provider


def _source(idp: DevIdP, clock: FakeClock, cooldown: float = 30.0) -> CachingTokenSource:
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(ENV["SHOP_API_CLIENT_SECRET"]),
                          token_endpoint=idp.token_endpoint, unauthorized_cooldown=cooldown)
    return CachingTokenSource(ClientCredentialsSource(config, clock=clock))


def _token_requests(idp: DevIdP) -> int:
    return int(idp.stats()["token_requests_total"])


CALLS = 1000
STEP = 0.125  # seconds of the injected clock between calls: 1,000 calls span 125 s
# Token requests: the first call's fetch; refreshes at 5 s (the first token stops being
# fresh), then one per 30 s cooldown: 35, 65, 95 s. 1,000 calls, 4 resent requests.
EXPECTED_TOKEN_REQUESTS = 5
EXPECTED_REFRESH_TIMES = [5.0, 35.0, 65.0, 95.0]


def _check_storm(idp: DevIdP, receiver: Receiver, clock: FakeClock, start: float,
                 counts: list[tuple[float, int]]) -> None:
    assert _token_requests(idp) == EXPECTED_TOKEN_REQUESTS
    assert len(receiver.seen) == CALLS + len(EXPECTED_REFRESH_TIMES)
    # When the count went up, relative to the first call: the first fetch and the refreshes.
    rises = [t - start for (t, n), (_, before) in zip(counts[1:], counts, strict=False) if n > before]
    assert rises == EXPECTED_REFRESH_TIMES
    # At most 2 token requests in any window of one cooldown (30 s).
    times = [0.0, *rises]
    assert max(sum(1 for u in times if t <= u < t + 30.0) for t in times) <= 2


def _drive(call: Callable[[], int], idp: DevIdP, clock: FakeClock) -> list[tuple[float, int]]:
    counts: list[tuple[float, int]] = []
    for _ in range(CALLS):
        assert call() == 401
        counts.append((clock.now, _token_requests(idp)))
        clock.advance(STEP)
    return counts


@pytest.mark.parametrize("challenge", CHALLENGES, ids=CHALLENGE_IDS)
def test_httpx_sync_1000_refused_calls_make_one_refresh_per_cooldown(
        idp: DevIdP, challenge: str | None, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(start=0.0)
    source = _source(idp, clock)
    with serving(Receiver(challenge)) as rs, \
            httpx.Client(auth=svcauth.httpx.BearerAuth(source)) as client:
        with caplog.at_level(logging.WARNING, logger="svcauth.caller"):
            counts = _drive(lambda: client.get(rs.url).status_code, idp, clock)
        _check_storm(idp, rs, clock, 0.0, counts)
    # Every 401 handed back unretried says why and quotes the receiver's challenge.
    lines = [r.getMessage() for r in caplog.records if r.name == "svcauth.caller"]
    quoted = f"WWW-Authenticate: {challenge}" if challenge else "no WWW-Authenticate header"
    # 4 calls were resent; of the 996 others, 196 refused a token requested under 5 s
    # before (40 in the first 5 s, 39 after each refresh), 800 fell in a cooldown.
    assert len(lines) == CALLS - 4
    assert all(quoted in line and rs.url in line for line in lines)
    assert sum("was fresh from the identity provider" in line for line in lines) == 196
    assert sum("already caused a token refresh" in line for line in lines) == 800


@pytest.mark.anyio
@pytest.mark.parametrize("challenge", CHALLENGES, ids=CHALLENGE_IDS)
async def test_httpx_async_1000_refused_calls_make_one_refresh_per_cooldown(
        idp: DevIdP, challenge: str | None) -> None:
    clock = FakeClock(start=0.0)
    source = _source(idp, clock)
    with serving(Receiver(challenge)) as rs:
        async with httpx.AsyncClient(auth=svcauth.httpx.BearerAuth(source)) as client:
            counts: list[tuple[float, int]] = []
            for _ in range(CALLS):
                assert (await client.get(rs.url)).status_code == 401
                counts.append((clock.now, _token_requests(idp)))
                clock.advance(STEP)
        _check_storm(idp, rs, clock, 0.0, counts)


@pytest.mark.parametrize("challenge", CHALLENGES, ids=CHALLENGE_IDS)
def test_requests_1000_refused_calls_make_one_refresh_per_cooldown(
        idp: DevIdP, challenge: str | None) -> None:
    clock = FakeClock(start=0.0)
    source = _source(idp, clock)
    with serving(Receiver(challenge)) as rs, requests.Session() as session:
        session.auth = svcauth.requests.BearerAuth(source)
        counts = _drive(lambda: session.post(rs.url, data=b"order").status_code, idp, clock)
        _check_storm(idp, rs, clock, 0.0, counts)


def test_cooldown_is_configurable(idp: DevIdP) -> None:
    clock = FakeClock(start=0.0)
    source = _source(idp, clock, cooldown=60.0)
    with serving(Receiver()) as rs, httpx.Client(auth=svcauth.httpx.BearerAuth(source)) as client:
        for _ in range(CALLS):
            assert client.get(rs.url).status_code == 401
            clock.advance(STEP)
    # First fetch, then refreshes at 5 s and 65 s over the 125 s run.
    assert (_token_requests(idp), len(rs.seen)) == (3, CALLS + 2)


# -- a receiver whose keys rotated -------------------------------------------------------

def _rotate(idp: DevIdP, rs: Receiver, audience: str) -> None:
    old = idp.active_kid
    idp.rotate_keys()
    idp.retire_key(old)
    rs.trust(idp.jwks(), idp.issuer, audience)  # the receiver now knows only the new key


AUDIENCE = "notification-service"


def _rotation_scenario(idp: DevIdP, rs: Receiver, clock: FakeClock,
                       call: Callable[[], int]) -> None:
    rs.trust(idp.jwks(), idp.issuer, AUDIENCE)
    assert call() == 200
    first = rs.seen[-1]
    clock.advance(60)
    _rotate(idp, rs, AUDIENCE)
    assert call() == 200  # refused once, refreshed, resent, accepted
    assert _token_requests(idp) == 2
    assert len(rs.seen) == 3
    assert rs.seen[1] == first and rs.seen[2] != first
    for _ in range(10):  # and the new token serves on, with no more token requests
        assert call() == 200
    assert (_token_requests(idp), len(rs.seen)) == (2, 13)


def test_rotated_keys_httpx_get_exactly_one_refresh_and_one_resent_request(
        idp: DevIdP) -> None:
    clock = FakeClock(start=0.0)
    source = _source(idp, clock)
    with serving(Receiver('Bearer error="invalid_token"')) as rs, \
            httpx.Client(auth=svcauth.httpx.BearerAuth(source)) as client:
        _rotation_scenario(idp, rs, clock,
                           lambda: client.post(rs.url, content=b"order").status_code)


def test_rotated_keys_requests_get_exactly_one_refresh_and_one_resent_request(
        idp: DevIdP) -> None:
    clock = FakeClock(start=0.0)
    source = _source(idp, clock)
    with serving(Receiver(None)) as rs, requests.Session() as session:
        session.auth = svcauth.requests.BearerAuth(source)
        _rotation_scenario(idp, rs, clock,
                           lambda: session.post(rs.url, data=b"order").status_code)


def test_rotated_keys_httpx_async_get_exactly_one_refresh_and_one_resent_request(
        idp: DevIdP) -> None:
    clock = FakeClock(start=0.0)
    source = _source(idp, clock)

    async def scenario(rs: Receiver) -> None:
        async with httpx.AsyncClient(auth=svcauth.httpx.BearerAuth(source)) as client:
            async def call() -> int:
                return (await client.post(rs.url, content=b"order")).status_code

            rs.trust(idp.jwks(), idp.issuer, AUDIENCE)
            assert await call() == 200
            first = rs.seen[-1]
            clock.advance(60)
            _rotate(idp, rs, AUDIENCE)
            assert await call() == 200
            assert (_token_requests(idp), len(rs.seen)) == (2, 3)
            assert rs.seen[1] == first and rs.seen[2] != first
            for _ in range(10):
                assert await call() == 200
            assert (_token_requests(idp), len(rs.seen)) == (2, 13)

    with serving(Receiver('Bearer error="invalid_token"')) as rs:
        anyio.run(scenario, rs)


# -- the verdict applied to the cache ----------------------------------------------------

def test_concurrent_refusals_of_one_token_cost_one_refresh() -> None:
    from .fakes import FakeTokenEndpoint, make_source, token_value

    endpoint, clock = FakeTokenEndpoint(), FakeClock()
    source = CachingTokenSource(make_source(endpoint, clock))
    first = source.token()
    clock.advance(10)
    # Three requests that carried the same token come back 401 one after the other.
    verdicts = [source.unauthorized(first).reason for _ in range(3)]
    assert verdicts == ["refresh", "newer", "newer"]
    assert [source.token() for _ in range(3)] == [token_value(2)] * 3
    assert endpoint.count == 2
    # The new token refused too, 10 s later: fresh no more, but within the cooldown.
    clock.advance(10)
    verdict = source.unauthorized(token_value(2))
    assert (verdict.reason, verdict.retry) == ("cooldown", False)
    assert 19.9 < verdict.wait < 20.1  # 30 s cooldown, the refresh was 10 s ago


def test_retry_unauthorized_asks_a_plain_token_source_its_invalidate() -> None:
    from svcauth.caller import retry_unauthorized

    class Plain:
        def __init__(self, answer: bool) -> None:
            self.answer, self.asked = answer, []

        def invalidate(self, access_token: str) -> bool:
            self.asked.append(access_token)
            return self.answer

    for answer in (True, False):
        plain = Plain(answer)
        assert retry_unauthorized(plain, "eyJ.t", 401, None) is answer
        assert plain.asked == ["eyJ.t"]
    plain = Plain(True)
    assert retry_unauthorized(plain, "eyJ.t", 403, None) is False
    assert retry_unauthorized(plain, "eyJ.t", 401, 'Bearer error="insufficient_scope"') is False
    assert plain.asked == []  # not a 401 worth a retry: the source is not asked


def test_nothing_cached_is_no_retry() -> None:
    from .fakes import FakeTokenEndpoint, make_source

    source = CachingTokenSource(make_source(FakeTokenEndpoint(), FakeClock()))
    assert source.unauthorized("eyJ.never.handed").reason == "nothing_cached"
    assert source.invalidate("eyJ.never.handed") is False
