"""Freshness and refresh-ahead arithmetic, and the backoff schedule."""

from __future__ import annotations

import pytest

from svcauth.caller import Backoff, RefreshPolicy, Token


def _token(lifetime: float, issued_at: float = 100.0) -> Token:
    return Token("eyJx", "Bearer", lifetime, issued_at + lifetime, None, issued_at)


@pytest.mark.parametrize(("lifetime", "fresh_until"), [
    (300, 100 + 240),   # margin 60 s
    (3600, 100 + 3540),
    (60, 100 + 30),     # margin capped at half the lifetime
    (10, 100 + 5),
])
def test_fresh_until_is_expiry_minus_margin_capped_at_half_life(lifetime: float, fresh_until: float) -> None:
    assert RefreshPolicy().fresh_until(_token(lifetime)) == fresh_until


@pytest.mark.parametrize(("lifetime", "spread", "refresh_at"), [
    (3600, 0.0, 100 + 2880), (3600, -1.0, 100 + 2700), (3600, 1.0, 100 + 3060),
    (300, -1.0, 100 + 225), (300, 1.0, 100 + 234),  # ends 2 % of life before fresh_until
    (300, 0.0, 100 + 229.5), (10, 1.0, 100 + 4),
])
def test_refresh_point_is_ratio_plus_jitter_of_lifetime(lifetime: float, spread: float, refresh_at: float) -> None:
    assert RefreshPolicy().refresh_at(_token(lifetime), spread) == pytest.approx(refresh_at)


@pytest.mark.parametrize(("attempt", "unit", "retry_after", "delay"), [
    (0, 1.0, None, 0.25), (1, 1.0, None, 0.5), (3, 0.5, None, 1.0), (10, 1.0, None, 4.0),
    (0, 0.0, None, 0.0), (0, 0.5, 3.0, 3.0), (5, 1.0, 1.0, 4.0),
])
def test_backoff_is_full_jitter_exponential_with_retry_after_as_floor(
    attempt: int, unit: float, retry_after: float | None, delay: float,
) -> None:
    assert Backoff().delay(attempt, unit, retry_after) == delay
