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

Nothing here imports a web framework.
"""

from __future__ import annotations

from ._asserts import assert_refused, expected_refusal
from ._mint import MISSING, LocalProvider, SigningKey, TokenFactory, apply_claims

__all__ = [
    "MISSING",
    "LocalProvider",
    "SigningKey",
    "TokenFactory",
    "apply_claims",
    "assert_refused",
    "expected_refusal",
]
