"""Django settings → svcauth guards: the ``SVCAUTH`` dict, the seed's variables as defaults.

::

    SVCAUTH = {"AUDIENCE": "notification-service",
               "REQUIRED_ROLES": ["notification-service:notifications:send"]}

Each key of ``SVCAUTH`` wins over its environment variable; a key that is neither in
``SVCAUTH`` nor in the environment takes the default of :class:`DjangoAuthSettings`. Keys
and their variables (the table with defaults is in docs/integrations/django.md):

=========================  ===========================  ================================
``SVCAUTH`` key            environment default          meaning
=========================  ===========================  ================================
``KEYCLOAK_URL``           ``KEYCLOAK_URL``             where the provider is reached
``KEYCLOAK_PUBLIC_URL``    ``KEYCLOAK_PUBLIC_URL``      what tokens carry in ``iss``
``KEYCLOAK_REALM``         ``KEYCLOAK_REALM``           the realm
``KEYCLOAK_AUTH_PATH``     ``KEYCLOAK_AUTH_PATH``       ``""`` or ``/auth``
``ISSUER``                 ``OIDC_ISSUER``              any OIDC issuer (wins over Keycloak)
``JWKS_URI``               ``SVCAUTH_JWKS_URI``         where the signing keys are
``AUDIENCE``               ``KEYCLOAK_CLIENT_ID``       this service's own client id
=========================  ===========================  ================================

The others (``ALGORITHMS``, ``LEEWAY``, ``WWW_AUTHENTICATE_REALM``, ``ALLOWED_CLIENTS``,
``REQUIRED_ROLES``, ``REQUIRED_SCOPES``, ``USER_ALLOWED_CLIENTS``, ``EXCLUDE_PATHS``,
``INCLUDE_CODE``, ``ALLOW_ANONYMOUS``) come from ``SVCAUTH`` only. ``GUARD`` and
``USER_GUARD`` (a :class:`~svcauth.receiver.Guard`, a callable returning one, or its dotted
path) replace the guards built from the rest. An unknown key is refused: a typo must not
silently leave an endpoint open. Building a guard does no I/O (the Keycloak JWKS path is
known; another provider names ``JWKS_URI``), so it is safe on an event loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from .._discovery import keycloak_issuer, normalize_auth_path
from .._errors import ConfigurationError
from ..receiver._guard import Guard
from ..receiver._policy import ServicePolicy, UserPolicy
from ..receiver._remote_keyset import RemoteKeySet
from ..receiver._verifier import Verifier

__all__ = ["DjangoAuthSettings", "reset_guards", "service_guard", "user_guard"]

KEYCLOAK_CERTS_PATH = "/protocol/openid-connect/certs"
DEFAULT_REALM = "svcauth"

# SVCAUTH key -> environment variable read when the key is absent.
_ENV_DEFAULTS: Mapping[str, str] = {
    "KEYCLOAK_URL": "KEYCLOAK_URL",
    "KEYCLOAK_PUBLIC_URL": "KEYCLOAK_PUBLIC_URL",
    "KEYCLOAK_REALM": "KEYCLOAK_REALM",
    "KEYCLOAK_AUTH_PATH": "KEYCLOAK_AUTH_PATH",
    "ISSUER": "OIDC_ISSUER",
    "JWKS_URI": "SVCAUTH_JWKS_URI",
    "AUDIENCE": "KEYCLOAK_CLIENT_ID",
}
_GUARD_KEYS = frozenset({"GUARD", "USER_GUARD"})


@dataclass(frozen=True, slots=True)
class DjangoAuthSettings:
    """What the Django integration builds its guards from; see :meth:`from_mapping`."""

    issuer: str
    """The exact ``iss`` accepted: ``ISSUER``, else the Keycloak realm's issuer built from the
    public URL (``KEYCLOAK_PUBLIC_URL``, default ``KEYCLOAK_URL``), auth path and realm."""
    jwks_uri: str
    """Where the signing keys are fetched: ``JWKS_URI``, else the Keycloak realm's certs
    endpoint reached through ``KEYCLOAK_URL``."""
    audience: tuple[str, ...]
    """Accepted audiences (``AUDIENCE``, default ``KEYCLOAK_CLIENT_ID``); required."""
    algorithms: tuple[str, ...] = ("RS256",)
    """The JWS algorithm allow-list (``ALGORITHMS``)."""
    leeway: float = 30.0
    """Seconds of clock skew tolerated (``LEEWAY``)."""
    www_authenticate_realm: str = DEFAULT_REALM
    """The ``realm`` of every ``WWW-Authenticate`` challenge (``WWW_AUTHENTICATE_REALM``,
    default the Keycloak realm name when there is one)."""
    allowed_clients: tuple[str, ...] | None = None
    """Service clients admitted by the service guard, ``None`` for any (``ALLOWED_CLIENTS``)."""
    required_roles: tuple[str, ...] = ()
    """Roles every service caller must hold (``REQUIRED_ROLES``, ``"<client>:<role>"``)."""
    required_scopes: tuple[str, ...] = ()
    """Scopes every service caller must have (``REQUIRED_SCOPES``)."""
    user_allowed_clients: tuple[str, ...] | None = ()
    """Clients whose user tokens the user guard admits (``USER_ALLOWED_CLIENTS``), ``None``
    for any. No default: unset (``()``), the user guard refuses to be built."""
    exclude_paths: tuple[str, ...] = ("/healthz",)
    """Exact paths the middleware lets through unauthenticated (``EXCLUDE_PATHS``)."""
    include_code: bool = False
    """Add the stable ``code`` to refusal bodies (``INCLUDE_CODE``)."""
    allow_anonymous: bool = False
    """DRF: a request without credentials is anonymous instead of refused
    (``ALLOW_ANONYMOUS``); bad credentials are refused all the same."""

    @classmethod
    def from_mapping(
        cls, svcauth: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> DjangoAuthSettings:
        """Settings from an ``SVCAUTH`` dict, ``environ`` (default ``os.environ``) filling
        the keys it lacks. Raises :class:`~svcauth.ConfigurationError` naming what is wrong."""
        env = os.environ if environ is None else environ
        known = {f.name.upper() for f in fields(cls)} | set(_ENV_DEFAULTS) | _GUARD_KEYS
        unknown = sorted(set(svcauth) - known)
        if unknown:
            raise ConfigurationError(f"SVCAUTH: expected keys from {sorted(known)}, found "
                                     f"unknown {unknown}")

        def get(key: str) -> Any:
            if key in svcauth:
                return svcauth[key]
            value = env.get(_ENV_DEFAULTS[key], "").strip()
            return value or None

        issuer, jwks_uri, realm = _endpoints(get)
        audience = _strings(get("AUDIENCE"), "AUDIENCE")
        if not audience:
            raise ConfigurationError("SVCAUTH['AUDIENCE'] is not set: expected this service's "
                                     "client id (or KEYCLOAK_CLIENT_ID)", code="config_missing")
        options: dict[str, Any] = {}
        for key in ("ALGORITHMS", "REQUIRED_ROLES", "REQUIRED_SCOPES", "EXCLUDE_PATHS"):
            if key in svcauth:
                options[key.lower()] = _strings(svcauth[key], key)
        for key in ("ALLOWED_CLIENTS", "USER_ALLOWED_CLIENTS"):
            if key in svcauth:
                value = svcauth[key]
                options[key.lower()] = None if value is None else _strings(value, key)
        for key in ("INCLUDE_CODE", "ALLOW_ANONYMOUS"):
            if key in svcauth:
                if not isinstance(svcauth[key], bool):
                    raise ConfigurationError(f"SVCAUTH['{key}']: expected True or False, found "
                                             f"{svcauth[key]!r}")
                options[key.lower()] = svcauth[key]
        if "LEEWAY" in svcauth:
            options["leeway"] = float(svcauth["LEEWAY"])
        options["www_authenticate_realm"] = str(
            svcauth.get("WWW_AUTHENTICATE_REALM") or realm or DEFAULT_REALM)
        return cls(issuer=issuer, jwks_uri=jwks_uri, audience=audience, **options)

    def verifier(self) -> Verifier:
        """A verifier with a remote key set for these settings (no I/O until a request)."""
        keys = RemoteKeySet(self.jwks_uri, issuer=self.issuer)
        return Verifier(issuer=self.issuer, audience=self.audience, key_set=keys,
                        algorithms=self.algorithms, leeway=self.leeway)

    def service_policy(self) -> ServicePolicy:
        """The service guard's policy."""
        return ServicePolicy(allowed_clients=self.allowed_clients,
                             required_roles=self.required_roles,
                             required_scopes=self.required_scopes)

    def user_policy(self) -> UserPolicy:
        """The user guard's policy."""
        if self.user_allowed_clients == ():
            raise ConfigurationError("SVCAUTH['USER_ALLOWED_CLIENTS'] is not set: expected the "
                                     "applications whose user tokens are admitted (or None "
                                     "for any)", code="config_missing")
        return UserPolicy(allowed_clients=self.user_allowed_clients)


_DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in fields(DjangoAuthSettings)}


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, Collection) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"SVCAUTH['{key}']: expected a string or a list of strings, "
                                 f"found {type(value).__name__}")
    return tuple(v for v in value if v)


def _endpoints(get: Callable[[str], Any]) -> tuple[str, str, str | None]:
    """(issuer, jwks_uri, Keycloak realm or None) from the endpoint keys."""
    jwks_uri = get("JWKS_URI")
    if issuer := get("ISSUER"):
        if not jwks_uri:
            raise ConfigurationError("SVCAUTH['JWKS_URI'] is not set: expected it with ISSUER "
                                     "(OIDC_ISSUER), or use KEYCLOAK_URL and KEYCLOAK_REALM",
                                     code="config_missing")
        return str(issuer), str(jwks_uri), None
    url, realm = get("KEYCLOAK_URL"), get("KEYCLOAK_REALM")
    for key, value in (("KEYCLOAK_URL", url), ("KEYCLOAK_REALM", realm)):
        if not value:
            raise ConfigurationError(f"SVCAUTH['{key}'] is not set: expected it (or the "
                                     f"{_ENV_DEFAULTS[key]} variable, or ISSUER)",
                                     code="config_missing")
    path = normalize_auth_path(get("KEYCLOAK_AUTH_PATH") or "")
    if path is None:
        raise ConfigurationError("SVCAUTH['KEYCLOAK_AUTH_PATH']: expected '' or '/auth', found "
                                 "'auto' (building a guard does no discovery)")
    issuer = keycloak_issuer(get("KEYCLOAK_PUBLIC_URL") or url, realm, path)
    internal = keycloak_issuer(url, realm, path)
    return issuer, jwks_uri or internal + KEYCLOAK_CERTS_PATH, str(realm)


def _configured() -> Mapping[str, Any]:
    from django.conf import settings  # type: ignore[import-untyped]

    value = getattr(settings, "SVCAUTH", {})
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"settings.SVCAUTH: expected a dict, found {type(value).__name__}")
    return value


def _given_guard(key: str) -> Guard[Any] | None:
    given = _configured().get(key)
    if given is None:
        return None
    if isinstance(given, str):
        from django.utils.module_loading import import_string  # type: ignore[import-untyped]

        given = import_string(given)
    if not isinstance(given, Guard) and callable(given):
        given = given()
    if not isinstance(given, Guard):
        raise ConfigurationError(f"SVCAUTH['{key}']: expected a Guard, a callable returning one "
                                 f"or its dotted path, found {type(given).__name__}")
    return given


@cache
def current_settings() -> DjangoAuthSettings:
    """The settings of this process (cached; :func:`reset_guards` drops the cache)."""
    return DjangoAuthSettings.from_mapping(
        {k: v for k, v in _configured().items() if k not in _GUARD_KEYS})


@cache
def _verifier() -> Verifier:
    # One verifier (one key set, one verified-token cache) under both guards.
    return current_settings().verifier()


@cache
def service_guard() -> Guard[Any]:
    """The guard for service callers: ``SVCAUTH['GUARD']``, else one built from settings
    (a :class:`~svcauth.receiver.ServicePolicy`)."""
    given = _given_guard("GUARD")
    if given is not None:
        return given
    config = current_settings()
    return Guard(_verifier(), config.service_policy(), realm=config.www_authenticate_realm)


@cache
def user_guard() -> Guard[Any]:
    """The guard for user tokens: ``SVCAUTH['USER_GUARD']``, else one built from settings
    (a :class:`~svcauth.receiver.UserPolicy` over the same verifier)."""
    given = _given_guard("USER_GUARD")
    if given is not None:
        return given
    config = current_settings()
    return Guard(_verifier(), config.user_policy(), realm=config.www_authenticate_realm)


def option(name: str) -> Any:
    """``exclude_paths``, ``include_code`` or ``allow_anonymous`` of the current settings,
    read without building a verifier (so ``GUARD`` alone needs no endpoint keys)."""
    configured = _configured()
    key = name.upper()
    if key not in configured:
        return _DEFAULTS[name]
    value = configured[key]
    if name == "exclude_paths":
        return _strings(value, key)
    if not isinstance(value, bool):
        raise ConfigurationError(f"SVCAUTH['{key}']: expected True or False, found {value!r}")
    return value


def reset_guards() -> None:
    """Forget the cached settings and guards (done on every change of ``settings.SVCAUTH``,
    e.g. by ``override_settings``)."""
    for cached in (current_settings, _verifier, service_guard, user_guard):
        cached.cache_clear()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting == "SVCAUTH":
        reset_guards()


def connect_signals() -> None:
    """Reset the guards when ``settings.SVCAUTH`` changes (idempotent)."""
    from django.core.signals import setting_changed  # type: ignore[import-untyped]

    setting_changed.connect(_on_setting_changed, dispatch_uid="svcauth.django.settings")
