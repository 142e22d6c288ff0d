"""Which guard decides which gRPC method (pure; no grpc import).

Keys are gRPC full method names as the server sees them:

* ``"/inventory.v1.Inventory/Reserve"``: that one method;
* ``"/inventory.v1.Inventory/"`` (ending in ``/``): every method of that service.

An exact name wins over its service. Secure by default: a method matching no key is
refused (``PERMISSION_DENIED``, code ``method_not_configured``) before its token is even
read, so a method added to a service later is closed until someone decides who may call it.
The escape hatches are explicit and logged at WARNING when the table is built:
``public`` (exact names served without authentication, e.g. health checks) and
``allow_unlisted_without_auth`` (every unlisted method served without authentication).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from .._errors import ConfigurationError, ForbiddenError
from ..receiver._guard import Guard
from ._dpop import receiver_htu

__all__ = ["MethodGuards"]

log = logging.getLogger("svcauth.grpc")

def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key.startswith("/"):
        raise ConfigurationError(
            f"grpc method key: expected '/package.Service/Method' or '/package.Service/', "
            f"found {key!r}")
    service, sep, method = key[1:].partition("/")
    if not service or not sep or "/" in method:
        raise ConfigurationError(
            f"grpc method key: expected '/package.Service/Method' or '/package.Service/', "
            f"found {key!r}")
    return key


def _as_guard(value: Any, verifier: Any, realm: str, key: str) -> Guard[Any]:
    if isinstance(value, Guard):
        return value
    if not callable(getattr(value, "authorize", None)):
        raise ConfigurationError(
            f"grpc method {key!r}: expected a Guard or a policy (with authorize()), "
            f"found {type(value).__name__}")
    if verifier is None:
        raise ConfigurationError(
            f"grpc method {key!r}: a policy needs MethodGuards(verifier=...); or pass a Guard")
    return Guard(verifier, value, realm=realm)


class MethodGuards:
    """A table from gRPC method (or service) to the :class:`~svcauth.receiver.Guard` that
    decides it.

    >>> guards = MethodGuards({                                        # doctest: +SKIP
    ...     "/inventory.v1.Inventory/Reserve": ServicePolicy(
    ...         required_roles={"inventory-service:inventory:reserve"}),
    ...     "/inventory.v1.Inventory/Check": ServicePolicy(
    ...         required_roles={"inventory-service:inventory:read"}),
    ... }, verifier=verifier, realm="techstore")

    Values are ``Guard`` objects, or policies that are paired with ``verifier`` (and
    ``realm``) into one. ``public`` lists exact method names served without any token;
    ``allow_unlisted_without_auth`` serves every unlisted method without one (both loud).
    """

    def __init__(
        self,
        routes: Mapping[str, Any],
        *,
        verifier: Any = None,
        realm: str = "svcauth",
        public: Collection[str] = (),
        allow_unlisted_without_auth: bool = False,
    ) -> None:
        self.realm = realm
        self._exact: dict[str, Guard[Any]] = {}
        self._services: dict[str, Guard[Any]] = {}
        for key, value in routes.items():
            guard = _as_guard(value, verifier, realm, _check_key(key))
            if guard.dpop is not None:  # refused now, not on the first call
                receiver_htu(guard.dpop, key, key)
            (self._services if key.endswith("/") else self._exact)[key] = guard
        self._public = frozenset(_check_key(k) for k in public)
        for key in sorted(self._public):
            if key.endswith("/"):
                raise ConfigurationError(
                    f"grpc public method: expected an exact '/package.Service/Method', found "
                    f"the whole service {key!r}")
            if key in self._exact:
                raise ConfigurationError(f"grpc method {key!r}: listed both with a guard and "
                                         f"as public")
            log.warning("svcauth.grpc: %s is served WITHOUT authentication (public)", key)
        self.allow_unlisted_without_auth = allow_unlisted_without_auth
        if allow_unlisted_without_auth:
            log.warning("svcauth.grpc: allow_unlisted_without_auth=True: every method not "
                        "listed is served WITHOUT authentication")
        if not routes and not self._public and not allow_unlisted_without_auth:
            raise ConfigurationError(
                "grpc MethodGuards: expected at least one method or service with a guard, "
                "found none (every call would be refused)")

    def guard_for(self, method: str) -> Guard[Any] | None:
        """The guard deciding ``method``, or ``None`` for a method served without
        authentication.

        Raises :class:`~svcauth.ForbiddenError` (``method_not_configured``) for a method no
        key matches, unless ``allow_unlisted_without_auth``.
        """
        guard = self._exact.get(method)
        if guard is not None:
            return guard
        cut = method.rfind("/")
        if cut > 0:
            guard = self._services.get(method[: cut + 1])
            if guard is not None:
                return guard
        if method in self._public or self.allow_unlisted_without_auth:
            return None
        raise ForbiddenError(
            "expected a gRPC method listed in MethodGuards, found one that is not (refused "
            "by default)", code="method_not_configured")
