"""Django and Django REST framework integration (receiver side).

* :class:`~svcauth.django.middleware.ServiceAuthMiddleware`: every request of a plain
  Django project needs a valid token (sync and async capable).
* :func:`require_service`: the same for one view, sync or ``async def``.
* :mod:`svcauth.django.drf`: DRF's ``ServiceTokenAuthentication`` /
  ``UserTokenAuthentication``, the ``ServicePermission`` / ``UserPermission`` classes and the
  ``exception_handler`` that answers refusals exactly.

Configuration comes from ``settings.SVCAUTH`` with the seed's environment variables as
defaults (:mod:`svcauth.django._settings`, docs/integrations/django.md); with
``"svcauth.django"`` in ``INSTALLED_APPS``, ``manage.py check`` reports a wrong one. Every refusal is the
exact RFC 6750 answer of :func:`~svcauth.receiver.refusal_for`, as in the other integrations.
"""

from __future__ import annotations

try:
    import django  # type: ignore[import-untyped]  # noqa: F401  (only to fail early with the install hint)
except ImportError as exc:  # pragma: no cover - exercised only without django installed
    raise ImportError(
        "svcauth.django needs Django: install it with  pip install 'svcauth[django]'"
    ) from exc

from ._settings import DjangoAuthSettings, connect_signals, reset_guards, service_guard, user_guard
from .decorators import require_service
from .middleware import ServiceAuthMiddleware

connect_signals()

__all__ = [
    "DjangoAuthSettings",
    "ServiceAuthMiddleware",
    "require_service",
    "reset_guards",
    "service_guard",
    "user_guard",
]
