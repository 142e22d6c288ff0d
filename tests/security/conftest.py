"""Hypothesis profiles for the security suite.

The default budget keeps ``make test`` quick; ``--hypothesis-profile=fuzz`` (registered here,
so pass a path under tests/security, e.g. ``pytest tests/security/test_fuzz.py
--hypothesis-profile=fuzz``) runs a long fuzzing session.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
