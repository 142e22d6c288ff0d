"""One offline token factory on the sample's billing realm for the module's tests."""

from __future__ import annotations

import pytest
from testing_support import ENV_FILE, NOW, REALM_FILE

from svcauth.devidp import load_env_file
from svcauth.testing import TokenFactory


@pytest.fixture(scope="module")
def factory() -> TokenFactory:
    """Billing realm, frozen clock at NOW, default audience billing-api."""
    return TokenFactory(REALM_FILE, env=load_env_file(ENV_FILE), audience="billing-api",
                        clock=lambda: NOW)
