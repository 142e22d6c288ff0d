"""Freshness and refresh-ahead arithmetic, and the backoff schedule."""

from __future__ import annotations

import pytest

from svcauth import ConfigurationError
from svcauth.caller import Backoff, RefreshPolicy, Token


def _token(lifetime: float, issued_at: float = 100.0) -> Token:
    return Token("eyJx", "Bearer", lifetime, issued_at + lifetime, None, issued_at)


@pytest.mark.parametrize(("lifetime", "fresh_until"), [
    (3600, 100 + 3540),   # margin 60 s
    (300, 100 + 261),     # margin 39 s: the refresh window (240..255) plus a 6 s lead comes first
    (60, 100 + 52.2),     # window 48..51 s plus a 1.2 s lead
    (10, 100 + 9),        # window 8..8.5 s plus a 0.5 s lead (5 % of the lifetime)
    (2, 100 + 1.8),       # window 1.6..1.7 s plus 0.1 s: a short token keeps a margin
])
def test_fresh_until_is_expiry_minus_margin_never_cutting_into_the_refresh_window(
    lifetime: float, fresh_until: float,
) -> None:
    assert RefreshPolicy().fresh_until(_token(lifetime)) == pytest.approx(fresh_until)


@pytest.mark.parametrize(("policy", "lifetime", "fresh_until"), [
    (RefreshPolicy(margin=60, refresh_ratio=0.5), 300, 100 + 240),   # window leaves room: 60 s
    (RefreshPolicy(margin=200, refresh_ratio=0.2), 300, 100 + 150),  # half the lifetime
    (RefreshPolicy(margin=5), 3600, 100 + 3595),
])
def test_margin_is_capped_at_half_the_lifetime(policy: RefreshPolicy, lifetime: float,
                                              fresh_until: float) -> None:
    assert policy.fresh_until(_token(lifetime)) == pytest.approx(fresh_until)


@pytest.mark.parametrize(("lifetime", "unit", "refresh_at"), [
    (3600, 0.0, 100 + 2880), (3600, 0.5, 100 + 2970), (3600, 1.0, 100 + 3060),
    (300, 0.0, 100 + 240), (300, 1.0, 100 + 255), (300, 0.5, 100 + 247.5),
    (10, 1.0, 100 + 8.5), (2, 0.0, 100 + 1.6), (2, 1.0, 100 + 1.7),
    (300, -3.0, 100 + 240), (300, 7.0, 100 + 255),  # unit clamped
])
def test_refresh_window_opens_at_the_ratio_and_is_jitter_wide(lifetime: float, unit: float,
                                                             refresh_at: float) -> None:
    assert RefreshPolicy().refresh_at(_token(lifetime), unit) == pytest.approx(refresh_at)


def test_a_window_reaching_the_expiry_is_squeezed_to_end_a_lead_before_it() -> None:
    policy = RefreshPolicy(refresh_ratio=0.97, jitter=0.03)
    token = _token(300)
    assert policy.fresh_until(token) == 400  # nothing left for a margin
    assert policy.refresh_at(token, 1.0) == pytest.approx(100 + 294)
    assert policy.refresh_at(token, 0.0) == pytest.approx(100 + 291)


@pytest.mark.parametrize("lifetime", [0.5, 1, 2, 5, 10, 60, 300, 3600, 86400, 1e9])
@pytest.mark.parametrize("unit", [0.0, 0.37, 1.0])
def test_refresh_starts_before_the_token_stops_being_served_and_never_before_the_ratio(
    lifetime: float, unit: float,
) -> None:
    policy, token = RefreshPolicy(), _token(lifetime)
    refresh = policy.refresh_at(token, unit)
    slack = 1e-12 * lifetime  # 0.8 + 0.05 is 0.8500000000000001 in floats
    assert token.issued_at + 0.8 * lifetime <= refresh <= token.issued_at + 0.85 * lifetime + slack
    assert refresh < policy.fresh_until(token) < token.expires_at  # a margin is always left


@pytest.mark.parametrize(("fields", "message"), [
    ({"margin": -1.0}, "margin: expected a finite number of seconds >= 0, found -1.0"),
    ({"refresh_ratio": 1.5}, "refresh_ratio: expected a share of the lifetime in (0, 1], found 1.5"),
    ({"refresh_ratio": 0.99}, "jitter: expected >= 0 with refresh_ratio + jitter <= 1, found "
                              "0.99 + 0.05 = 1.04; lower jitter or refresh_ratio"),
])
def test_the_policy_refuses_settings_it_cannot_work_with(fields: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RefreshPolicy(**fields)
    assert info.value.message == message


@pytest.mark.parametrize(("attempt", "unit", "retry_after", "delay"), [
    (0, 1.0, None, 0.25), (1, 1.0, None, 0.5), (3, 0.5, None, 1.0), (10, 1.0, None, 4.0),
    (0, 0.0, None, 0.0), (0, 0.5, 3.0, 3.0), (5, 1.0, 1.0, 4.0),
])
def test_backoff_is_full_jitter_exponential_with_retry_after_as_floor(
    attempt: int, unit: float, retry_after: float | None, delay: float,
) -> None:
    assert Backoff().delay(attempt, unit, retry_after) == delay


@pytest.mark.parametrize("lifetime", [-5.0, 0.0])
@pytest.mark.parametrize("unit", [0.0, 1.0])
def test_a_token_that_arrives_expired_is_never_scheduled_past_its_serving_limit(
    lifetime: float, unit: float,
) -> None:
    policy, token = RefreshPolicy(), _token(lifetime)
    assert policy.fresh_until(token) == token.expires_at
    assert policy.refresh_at(token, unit) == token.expires_at
