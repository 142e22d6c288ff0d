"""Fault-suite fixtures: an embedded IdP on a short-lifetime realm copy, the soak switch.

``make test`` runs the short version; ``make soak`` sets ``SVCAUTH_SOAK=1``, which turns on
the tests marked ``soak`` and makes the loads of the others longer (``fault_kit.soak``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_kit import SOAK, TOKEN_LIFETIME

from mockmart.config import REALM_FILE, dev_env
from mockmart.system.stack import short_lifespan_realm
from svcauth.devidp import DevIdP


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: only under make soak (SVCAUTH_SOAK=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SOAK:
        return
    skip = pytest.mark.skip(reason="soak only: make soak (SVCAUTH_SOAK=1)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def short_realm(tmp_path: Path) -> Path:
    """The techstore realm with shop-api tokens living :data:`TOKEN_LIFETIME` seconds."""
    return short_lifespan_realm(REALM_FILE, tmp_path / "realm.json", seconds=TOKEN_LIFETIME,
                                clients=("shop-api",))


@pytest.fixture
def idp(short_realm: Path) -> Iterator[DevIdP]:
    """A running DevIdP serving the short-lifetime realm."""
    with DevIdP(short_realm, env=dev_env()) as provider:
        yield provider


@pytest.fixture
def shop_secret() -> str:
    """shop-api's dev client secret."""
    return dev_env()["SHOP_API_CLIENT_SECRET"]


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start a MockMart system (processes on free ports) with the given StackOptions fields;
    stopped after the test."""
    from mockmart.system.stack import Stack, StackOptions

    started: list[Stack] = []

    def make(**options: Any) -> Stack:
        options.setdefault("run_dir", tmp_path / f"run{len(started)}")
        options.setdefault("retry_max_delay", 1.0)
        stack = Stack(StackOptions(**options))
        started.append(stack)
        return stack.start()

    try:
        yield make
    finally:
        for stack in started:
            stack.stop()
