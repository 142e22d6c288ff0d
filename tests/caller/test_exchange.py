"""The token-exchange caller (RFC 8693): the request it builds, its cache keyed by the
subject token's hash and the audience, the cap at the subject token's exp, single flight,
refusals remembered. In-process token endpoint, injected clock, no sleeping."""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest

from svcauth import ConfigurationError, TokenEndpointError
from svcauth.caller import (
    ACCESS_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    CachingTokenSource,
    ClientSecretBasic,
    TokenCache,
    TokenExchanger,
    build_exchange_request,
    subject_expiry,
)

from .fakes import SECRET, TOKEN_URL, FakeClock, FakeTokenEndpoint, make_source, token_value

WALL = 1_700_000_000.0  # make_source's wall clock is WALL + clock.now


def _b64(doc: object) -> str:
    raw = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subject(exp: object = WALL + 10_000, user: str = "alice") -> str:
    """A user-token-shaped JWT (never verified by the caller; the provider does that)."""
    claims = {"sub": user, "azp": "storefront"} | ({} if exp is None else {"exp": exp})
    return f"{_b64({'alg': 'RS256'})}.{_b64(claims)}.sig-{user}"


def _exchanger(expires_in: int = 300, **kw: object) -> tuple[TokenExchanger, FakeTokenEndpoint, FakeClock]:
    endpoint, clock = FakeTokenEndpoint(expires_in=expires_in), FakeClock()
    return TokenExchanger(make_source(endpoint, clock), **kw), endpoint, clock  # type: ignore[arg-type]


# -- pure parts -----------------------------------------------------------------------

def test_exchange_request_is_rfc8693_with_client_authentication() -> None:
    request = build_exchange_request(
        token_endpoint=TOKEN_URL, client_id="shop-api", auth=ClientSecretBasic(SECRET),
        subject_token="eyJ.user.sig", audience=("payment-service", "notification-service"),
        scope=("phone", "address"), timeout=2.5)
    assert request.url == TOKEN_URL and request.timeout == 2.5
    assert list(request.form) == [
        ("grant_type", TOKEN_EXCHANGE_GRANT), ("subject_token", "eyJ.user.sig"),
        ("subject_token_type", ACCESS_TOKEN_TYPE), ("audience", "payment-service"),
        ("audience", "notification-service"), ("scope", "phone address")]
    assert request.headers["Authorization"].startswith("Basic ")
    assert TOKEN_EXCHANGE_GRANT == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert ACCESS_TOKEN_TYPE == "urn:ietf:params:oauth:token-type:access_token"


# (name, subject token, expected exp)
EXPIRY_ROWS = [
    ("integer exp", subject(exp=1_800_000_000), 1_800_000_000.0),
    ("float exp", subject(exp=1_800_000_000.5), 1_800_000_000.5),
    ("no exp", subject(exp=None), None),
    ("boolean exp", subject(exp=True), None),
    ("string exp", subject(exp="1800000000"), None),
    ("NaN exp", _b64({}) + "." + _b64(b'{"exp": NaN}') + ".s", None),
    ("payload not JSON", f"{_b64({})}.{_b64(b'not json')}.s", None),
    ("payload a list", f"{_b64({})}.{_b64([1])}.s", None),
    ("payload not base64url", "a.b*c.d", None),
    ("two parts", "a.b", None),
    ("opaque token", "2YotnFZFEjr1zCsicMWpAA", None),
]


@pytest.mark.parametrize(("name", "token", "expected"), EXPIRY_ROWS, ids=[r[0] for r in EXPIRY_ROWS])
def test_subject_expiry_is_read_without_verification(name: str, token: str,
                                                     expected: float | None) -> None:
    assert subject_expiry(token) == expected


# -- the cache ------------------------------------------------------------------------

def test_one_exchange_per_subject_audience_and_scope() -> None:
    exchanger, endpoint, _ = _exchanger()
    alice, bob = subject(user="alice"), subject(user="bob")
    first = exchanger.exchange(alice, audience="payment-service")
    assert exchanger.exchange(alice, audience="payment-service") == first
    assert exchanger.exchange(alice, audience=["payment-service"]) == first  # same key, spelled otherwise
    assert endpoint.count == 1
    assert dict(endpoint.form(0)) == {
        "grant_type": TOKEN_EXCHANGE_GRANT, "subject_token": alice,
        "subject_token_type": ACCESS_TOKEN_TYPE, "audience": "payment-service"}
    assert exchanger.exchange(alice, audience="notification-service") == token_value(2)
    assert exchanger.exchange(alice, audience="payment-service", scope="phone") == token_value(3)
    assert exchanger.exchange(bob, audience="payment-service") == token_value(4)
    assert endpoint.count == 4
    assert endpoint.form(2)["scope"] == "phone"


def test_exchanged_token_is_never_served_past_the_subject_exp() -> None:
    exchanger, endpoint, clock = _exchanger(expires_in=300)
    # The subject expires 100 s from now; the provider would give 300 s.
    user = subject(exp=WALL + clock.now + 100)
    exchanger.exchange(user, audience="payment-service")
    cached = exchanger.source(user, "payment-service").cached()
    assert cached is not None and cached.expires_at == clock.now + 100
    start = clock.now
    clock.advance(79)  # a 100 s life: refreshed ahead from 80 s, served until 87 s
    assert exchanger.exchange(user, audience="payment-service") == token_value(1)
    assert endpoint.count == 1
    clock.advance(9)  # past 87 s (13 s before the subject's exp): not served any more
    assert exchanger.exchange(user, audience="payment-service") == token_value(2)
    assert endpoint.count == 2
    assert clock.now - start == 88


def test_subject_lifetime_longer_than_the_token_keeps_the_token_lifetime() -> None:
    exchanger, _, clock = _exchanger(expires_in=300)
    user = subject(exp=WALL + clock.now + 3600)
    exchanger.exchange(user, audience="payment-service")
    cached = exchanger.source(user, "payment-service").cached()
    assert cached is not None and cached.expires_at == clock.now + 300


def test_subject_without_readable_exp_is_exchanged_on_every_call() -> None:
    exchanger, _, _ = _exchanger()
    opaque = "2YotnFZFEjr1zCsicMWpAA"
    assert [exchanger.exchange(opaque, audience="payment-service") for _ in range(3)] == \
        [token_value(1), token_value(2), token_value(3)]


def test_cache_key_holds_the_subject_hash_never_the_token_and_never_meets_client_credentials() -> None:
    endpoint, clock = FakeTokenEndpoint(), FakeClock()
    client = make_source(endpoint, clock)
    cache = TokenCache()
    own = CachingTokenSource(client, cache=cache)
    exchanger = TokenExchanger(client, cache=cache)
    user = subject()
    assert own.token() == token_value(1)
    assert exchanger.exchange(user, audience="payment-service") == token_value(2)
    assert own.token() == token_value(1)
    assert (endpoint.count, len(cache)) == (2, 2)
    keys = list(cache._entries)  # the test inspects what the cache holds
    assert all(user not in repr(k) for k in keys)
    assert "token-exchange" in repr(keys[1])


def test_single_flight_across_threads() -> None:
    gate = threading.Event()
    endpoint, clock = FakeTokenEndpoint(gate=gate), FakeClock()
    exchanger = TokenExchanger(make_source(endpoint, clock))
    user = subject()
    results: list[str] = []

    def call() -> None:
        results.append(exchanger.exchange(user, audience="payment-service"))

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    while endpoint.count == 0:
        threading.Event().wait(0.001)
    gate.set()
    for t in threads:
        t.join(10)
    assert (endpoint.count, results) == (1, [token_value(1)] * 50)


@pytest.mark.anyio
async def test_single_flight_across_tasks() -> None:
    exchanger, endpoint, _ = _exchanger()
    user = subject()
    results: list[str] = []

    async def call() -> None:
        results.append(await exchanger.aexchange(user, audience="payment-service"))

    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(call)
    assert (endpoint.count, results) == (1, [token_value(1)] * 200)


def test_refusal_is_raised_with_the_provider_error_and_remembered() -> None:
    refusal = httpx.Response(403, json={"error": "access_denied",
                                        "error_description": "Client is not within the token audience"})
    endpoint, clock = FakeTokenEndpoint(script=[refusal]), FakeClock()
    exchanger = TokenExchanger(make_source(endpoint, clock))
    user = subject()
    for _ in range(2):
        with pytest.raises(TokenEndpointError) as info:
            exchanger.exchange(user, audience="payment-service")
        assert (info.value.status, info.value.error) == (403, "access_denied")
        assert info.value.error_description == "Client is not within the token audience"
    assert endpoint.count == 1  # remembered for failure_ttl (5 s)
    clock.advance(5.1)
    assert exchanger.exchange(user, audience="payment-service") == token_value(2)


def test_forget_and_the_bound_on_remembered_subjects() -> None:
    exchanger, endpoint, _ = _exchanger(max_subjects=2)
    a, b, c = (subject(user=u) for u in "abc")
    for user in (a, b):
        exchanger.exchange(user, audience="payment-service")
    exchanger.exchange(c, audience="payment-service")  # the oldest (a) goes
    assert len(exchanger) == 2
    assert exchanger.exchange(a, audience="payment-service") == token_value(4)
    assert exchanger.forget(a) == 1
    assert exchanger.exchange(a, audience="payment-service") == token_value(5)
    assert endpoint.count == 5


@pytest.mark.parametrize(("subject_token", "audience"), [
    ("", "payment-service"), ("eyJ.a.b", ["payment-service", ""]), ("eyJ.a.b", [3])])
def test_bad_arguments_are_refused_before_any_request(subject_token: str, audience: object) -> None:
    exchanger, endpoint, _ = _exchanger()
    with pytest.raises(ConfigurationError, match=r"^exchange (subject_token|audience): expected"):
        exchanger.exchange(subject_token, audience=audience)  # type: ignore[arg-type]
    assert endpoint.count == 0


def test_form_of_a_real_request_has_no_second_grant_type() -> None:
    exchanger, endpoint, _ = _exchanger()
    exchanger.exchange(subject(), audience="payment-service")
    pairs = parse_qsl(endpoint.requests[0].content.decode())
    assert [k for k, _ in pairs].count("grant_type") == 1


def test_two_audiences_and_an_audience_with_a_scope_are_different_requests() -> None:
    exchanger, endpoint, _ = _exchanger()
    user = subject()
    two = exchanger.exchange(user, audience=("payment-service", "phone"))
    scoped = exchanger.exchange(user, audience="payment-service", scope="phone")
    assert (two, scoped, endpoint.count) == (token_value(1), token_value(2), 2)
    assert exchanger.exchange(user, audience=("payment-service", "phone")) == two
    assert exchanger.exchange(user, audience="payment-service", scope="phone") == scoped
    first = parse_qsl(endpoint.requests[0].content.decode())
    assert [v for k, v in first if k == "audience"] == ["payment-service", "phone"]
    assert "scope" not in dict(first)
    assert endpoint.form(1)["scope"] == "phone"
