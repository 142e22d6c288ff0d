"""Test kit for services protected by svcauth: realistic tokens without Keycloak.

The pytest plugin (loaded automatically once svcauth is installed; see docs/testing.md)
gives ``svcauth_idp`` (the embedded provider serving your realm file on a free loopback
port) and ``svcauth_tokens`` (no server: a static key set and ``mint()``). Outside pytest
the same objects are :class:`LocalProvider` and :class:`TokenFactory`::

    from svcauth.testing import MISSING, assert_refused

    def test_expired_token_is_refused(client, svcauth_tokens):
        response = client.get("/invoices", headers=svcauth_tokens.headers(
            "invoicing-job", expired=True))
        assert_refused(response, 401, "token_expired")

    def test_token_without_azp_is_refused(client, svcauth_tokens):
        headers = svcauth_tokens.headers("invoicing-job", claims={"azp": MISSING})
        ...

Nothing here imports a web framework. The names load on first use (PEP 562), because
pytest imports this package's plugin at every start-up of every project that has svcauth
installed: loading the plugin must cost nothing when its fixtures are not used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._asserts import assert_refused, expected_refusal
    from ._mint import MISSING, LocalProvider, SigningKey, TokenFactory, apply_claims

_HOMES = {
    "MISSING": "._mint",
    "LocalProvider": "._mint",
    "SigningKey": "._mint",
    "TokenFactory": "._mint",
    "apply_claims": "._mint",
    "assert_refused": "._asserts",
    "expected_refusal": "._asserts",
}

__all__ = [
    "MISSING",
    "LocalProvider",
    "SigningKey",
    "TokenFactory",
    "apply_claims",
    "assert_refused",
    "expected_refusal",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
