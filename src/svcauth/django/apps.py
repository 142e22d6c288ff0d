"""Optional Django app: ``INSTALLED_APPS = [..., "svcauth.django"]`` makes ``manage.py check``
(and every ``runserver`` start) report a wrong ``SVCAUTH`` setting as error ``svcauth.E001``
instead of a refusal of the first request."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig  # type: ignore[import-untyped]
from django.core import checks  # type: ignore[import-untyped]

from .._errors import ConfigurationError
from ._settings import service_guard

__all__ = ["SvcAuthConfig", "check_settings"]


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Django system check: the service guard can be built from the settings."""
    try:
        service_guard()
    except ConfigurationError as exc:
        return [checks.Error(f"svcauth: {exc.message}", id="svcauth.E001",
                             hint="see docs/integrations/django.md for the SVCAUTH keys")]
    return []


class SvcAuthConfig(AppConfig):  # type: ignore[misc]
    """The ``svcauth.django`` app: registers :func:`check_settings`."""

    name = "svcauth.django"
    label = "svcauth"
    verbose_name = "svcauth"

    def ready(self) -> None:
        """Register the settings check."""
        checks.register(check_settings, checks.Tags.security)
