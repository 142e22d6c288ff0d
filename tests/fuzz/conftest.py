"""Hypothesis profiles of the fuzz twins: default (a few seconds per test, part of
``make test``) and ``fuzz`` (20,000 examples per test)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("fuzz", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
