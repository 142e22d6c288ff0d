"""``svcauth.django`` and ``svcauth.django.drf`` export exactly their public names, sorted and
documented, and say which extra to install when Django or DRF is missing."""

from __future__ import annotations

import subprocess
import sys

import django_site  # noqa: F401  (configures Django settings)
import pytest

import svcauth.django as integration
from svcauth.django import drf

EXPECTED = {
    integration: ["DjangoAuthSettings", "ServiceAuthMiddleware", "require_service",
                  "reset_guards", "service_guard", "user_guard"],
    drf: ["ServiceAuthRefused", "ServicePermission", "ServiceTokenAuthentication", "ServiceUser",
          "UserPermission", "UserTokenAuthentication", "exception_handler"],
}


@pytest.mark.parametrize("module", list(EXPECTED), ids=lambda m: m.__name__)
def test_all_is_exactly_the_public_names_sorted_and_documented(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == EXPECTED[module]  # type: ignore[index]
    for name in names:
        assert (getattr(module, name).__doc__ or "").strip(), name


@pytest.mark.parametrize(("missing", "module"), [("django", "svcauth.django"),
                                                 ("rest_framework", "svcauth.django.drf")])
def test_a_missing_framework_names_the_extra_to_install(missing: str, module: str) -> None:
    code = (f"import sys; sys.modules[{missing!r}] = None\n"
            f"try:\n    import {module}\nexcept ImportError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert "pip install 'svcauth[django]'" in result.stdout, result.stdout + result.stderr
