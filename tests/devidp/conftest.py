"""Fixtures for the development identity provider: the repo's realm and dev.env, a
shared running provider for read-only tests, and one of its own for tests that change it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from devidp_support import ENV_FILE, REALM_FILE, public_storefront_realm

from svcauth.devidp import DevIdP, Realm, load_env_file, load_realm


@pytest.fixture(scope="session")
def dev_env() -> dict[str, str]:
    return load_env_file(ENV_FILE)


@pytest.fixture(scope="session")
def realm(dev_env: dict[str, str]) -> Realm:
    return load_realm(REALM_FILE, dev_env)


@pytest.fixture(scope="module")
def idp(realm: Realm) -> Iterator[DevIdP]:
    """A running provider shared by a module's tests (do not rotate or fault it)."""
    with DevIdP(realm) as provider:
        yield provider


@pytest.fixture
def fresh_idp(realm: Realm) -> Iterator[DevIdP]:
    """A running provider of its own, for tests that change keys, faults or state."""
    with DevIdP(realm) as provider:
        yield provider




@pytest.fixture(scope="session")
def public_realm(dev_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Realm:
    """The test-only realm whose storefront is public with direct access grants."""
    path: Path = public_storefront_realm(tmp_path_factory.mktemp("realm") / "public.json")
    return load_realm(path, dev_env)


@pytest.fixture(scope="module")
def public_idp(public_realm: Realm) -> Iterator[DevIdP]:
    """A running provider of the test-only public-storefront realm."""
    with DevIdP(public_realm) as provider:
        yield provider
