"""Django REST framework: an authentication class, permission classes and the exception
handler that answers refusals exactly.

::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["svcauth.django.drf.ServiceTokenAuthentication"],
        "EXCEPTION_HANDLER": "svcauth.django.drf.exception_handler",
        "UNAUTHENTICATED_USER": None,
    }

    class Send(APIView):
        permission_classes = [ServicePermission(
            required_roles={"notification-service:notifications:send"})]

        def post(self, request):
            return Response({"from": request.user.client_id})

``ServiceTokenAuthentication.authenticate`` returns ``(ServiceUser(identity), identity)``:
``request.user`` is a user-like wrapper (``is_authenticated`` true) and ``request.auth`` the
guard's identity (its ``claims`` are the verified claims). ``authenticate_header`` gives the
RFC 6750 challenge DRF puts on its own 401s. A refusal is raised as
:class:`ServiceAuthRefused`, which :func:`exception_handler` turns into the exact status,
headers and ``{"error": "..."}`` body of every other integration (DRF's default handler
keeps status, body, ``WWW-Authenticate`` and ``Retry-After`` but not ``Cache-Control`` nor a
JSON-only body; a warning is logged once when it is the one installed).

Permissions run one more policy on the verified claims of the caller: ``ServicePermission``
a :class:`~svcauth.receiver.ServicePolicy`, ``UserPermission`` a
:class:`~svcauth.receiver.UserPolicy` (use it with ``UserTokenAuthentication``). Give the
options as arguments (``ServicePermission(required_roles=...)``) or as class attributes of a
subclass. DRF views are synchronous: under ASGI Django runs them in a worker thread, so the
blocking ``Guard.authenticate`` never runs on the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, ClassVar

try:
    from rest_framework.authentication import BaseAuthentication  # type: ignore[import-untyped]
    from rest_framework.exceptions import APIException  # type: ignore[import-untyped]
    from rest_framework.permissions import BasePermission  # type: ignore[import-untyped]
    from rest_framework.settings import api_settings  # type: ignore[import-untyped]
except ModuleNotFoundError as exc:  # DRF absent; any other ImportError shows as it is
    raise ImportError(
        "svcauth.django.drf needs Django REST framework: install it with  "
        "pip install 'svcauth[django]'"
    ) from exc

from .._errors import ForbiddenError, MissingTokenError, SvcAuthError
from .._telemetry._audit import audit as _audit_line
from ..receiver._guard import AuthDecision, Guard
from ..receiver._policy import ServicePolicy, UserPolicy
from ..receiver._rfc6750 import refusal_for
from ._refusal import refusal_response
from ._request import credentials_of
from ._settings import option, service_guard, user_guard
from .middleware import VERIFIED

__all__ = [
    "ServiceAuthRefused",
    "ServicePermission",
    "ServiceTokenAuthentication",
    "ServiceUser",
    "UserPermission",
    "UserTokenAuthentication",
    "exception_handler",
]

log = logging.getLogger("svcauth.django")

_NO_CREDENTIALS = "expected a request authenticated by svcauth, found none"


class ServiceUser:
    """``request.user`` for a verified caller; ``identity`` is what the guard returned."""

    is_authenticated = True
    """Always true: only verified callers become a ``ServiceUser``."""
    is_anonymous = False
    """Always false."""

    __slots__ = ("identity", "realm")

    def __init__(self, identity: Any, realm: str) -> None:
        self.identity = identity
        """The guard's identity (``ServiceIdentity`` or ``UserIdentity``)."""
        self.realm = realm
        """The realm of the guard that let the caller in (for later refusals)."""

    @property
    def client_id(self) -> str | None:
        """The caller's client id (a user token: the application it was issued to)."""
        value = getattr(self.identity, "client_id", None)
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        return self.client_id or ""

    def __repr__(self) -> str:
        return f"ServiceUser({self.client_id!r})"


class ServiceAuthRefused(APIException):  # type: ignore[misc]
    """A refused request; ``error`` is the svcauth error, ``refusal`` its HTTP answer.

    Carries DRF's ``auth_header`` and ``wait`` so that even DRF's default handler answers
    the right status, body, ``WWW-Authenticate`` and ``Retry-After``.
    """

    def __init__(self, error: SvcAuthError, *, realm: str, include_code: bool = False) -> None:
        refusal = refusal_for(error, realm=realm, include_code=include_code)
        super().__init__(detail=dict(refusal.body), code=error.code)
        self.status_code = refusal.status
        self.error = error
        self.realm = realm
        self.include_code = include_code
        self.refusal = refusal
        self.auth_header = refusal.header("WWW-Authenticate")
        retry_after = refusal.header("Retry-After")
        self.wait = int(retry_after) if retry_after else None


_warned = False


def _refused(error: SvcAuthError, realm: str) -> ServiceAuthRefused:
    global _warned
    if not _warned and api_settings.EXCEPTION_HANDLER is not exception_handler:
        _warned = True
        log.warning("svcauth.django.drf: REST_FRAMEWORK['EXCEPTION_HANDLER'] is not "
                    "'svcauth.django.drf.exception_handler'; refusals lack Cache-Control: "
                    "no-store and follow content negotiation")
    return ServiceAuthRefused(error, realm=realm, include_code=option("include_code"))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF ``EXCEPTION_HANDLER``: the exact RFC 6750 answer to :class:`ServiceAuthRefused`
    (always JSON, whatever the ``Accept`` header), DRF's own handler for everything else."""
    if isinstance(exc, ServiceAuthRefused):
        return refusal_response(exc.error, realm=exc.realm, include_code=exc.include_code)
    # Imported here: rest_framework.views imports the authentication classes of the
    # settings (this module) while it loads.
    from rest_framework.views import exception_handler as drf_exception_handler  # type: ignore[import-untyped]

    return drf_exception_handler(exc, context)


class ServiceTokenAuthentication(BaseAuthentication):  # type: ignore[misc]
    """DRF authentication with the settings' service guard (``SVCAUTH['GUARD']`` or the one
    built from settings); a subclass may set ``guard``.

    A request without credentials is refused (401 ``No token provided``) unless
    ``SVCAUTH['ALLOW_ANONYMOUS']``, in which case it is left to the next authentication
    class and the permissions. Behind :class:`~svcauth.django.ServiceAuthMiddleware` with the
    same guard the middleware's identity is reused.
    """

    guard: ClassVar[Guard[Any] | None] = None

    def get_guard(self) -> Guard[Any]:
        """The guard this class authenticates with."""
        return self.guard or service_guard()

    def authenticate(self, request: Any) -> tuple[ServiceUser, Any] | None:
        """``(ServiceUser(identity), identity)``, ``None`` (anonymous allowed and no
        credentials) or :class:`ServiceAuthRefused`."""
        django_request = getattr(request, "_request", request)
        guard = self.get_guard()
        verified = django_request.__dict__.get(VERIFIED)  # no AttributeError when absent
        if verified is not None and verified[0] is guard:
            return ServiceUser(verified[1], guard.realm), verified[1]
        values, query_token, endpoint = credentials_of(django_request)
        try:
            identity = guard.authenticate(values, query_token=query_token, endpoint=endpoint)
        except MissingTokenError as error:
            if option("allow_anonymous"):
                return None
            raise _refused(error, guard.realm) from None
        except SvcAuthError as error:
            raise _refused(error, guard.realm) from None
        return ServiceUser(identity, guard.realm), identity

    def authenticate_header(self, request: Any) -> str:
        """The ``WWW-Authenticate`` challenge of a 401 (``Bearer realm="..."``)."""
        refusal = refusal_for(MissingTokenError(_NO_CREDENTIALS), realm=self.get_guard().realm)
        return refusal.header("WWW-Authenticate") or ""


class UserTokenAuthentication(ServiceTokenAuthentication):
    """DRF authentication of user tokens: the settings' user guard (``SVCAUTH['USER_GUARD']``
    or a :class:`~svcauth.receiver.UserPolicy` for ``USER_ALLOWED_CLIENTS``)."""

    def get_guard(self) -> Guard[Any]:
        """The guard this class authenticates with."""
        return self.guard or user_guard()


_UNSET: Any = object()


class ServicePermission(BasePermission):  # type: ignore[misc]
    """DRF permission: the caller's verified claims meet a
    :class:`~svcauth.receiver.ServicePolicy`.

    ``ServicePermission(required_roles={"inventory-service:inventory:reserve"})`` in
    ``permission_classes`` (an instance works: DRF's call returns it), or a subclass with
    the options as class attributes. A request svcauth did not authenticate is refused with
    401 ``No token provided``; a caller the policy refuses with its exact 403 (and a ``deny``
    line on the ``svcauth.audit`` log, after the guard's ``allow``).
    """

    allowed_clients: ClassVar[Collection[str] | None] = None
    """Client ids admitted, ``None`` for any."""
    required_roles: ClassVar[Collection[str]] = ()
    """Roles the caller must hold, all of them (``"<client>:<role>"``, ``"realm:<role>"``)."""
    required_scopes: ClassVar[Collection[str]] = ()
    """Scopes the caller must have been granted, all of them."""
    _class_policy: ClassVar[Any] = None

    def __init__(self, *, allowed_clients: Collection[str] | None = _UNSET,
                 required_roles: Collection[str] | None = None,
                 required_scopes: Collection[str] | None = None) -> None:
        if allowed_clients is _UNSET and required_roles is None and required_scopes is None:
            cls = type(self)
            # DRF instantiates permission classes per request: build the policy once.
            if "_class_policy" not in cls.__dict__:
                cls._class_policy = self.make_policy(
                    cls.allowed_clients, cls.required_roles, cls.required_scopes)
            self.policy = cls._class_policy
        else:
            self.policy = self.make_policy(
                self.allowed_clients if allowed_clients is _UNSET else allowed_clients,
                self.required_roles if required_roles is None else required_roles,
                self.required_scopes if required_scopes is None else required_scopes)

    @classmethod
    def make_policy(cls, allowed_clients: Collection[str] | None, required_roles: Collection[str],
                    required_scopes: Collection[str]) -> Any:
        """The policy these options describe."""
        return ServicePolicy(allowed_clients=allowed_clients, required_roles=required_roles,
                             required_scopes=required_scopes)

    def __call__(self) -> ServicePermission:
        """DRF instantiates each entry of ``permission_classes``: an instance is its own."""
        return self

    def has_permission(self, request: Any, view: Any) -> bool:
        """True for a caller the policy admits; otherwise :class:`ServiceAuthRefused`."""
        user = request.user
        if not isinstance(user, ServiceUser):
            raise _refused(MissingTokenError(_NO_CREDENTIALS), service_guard().realm)
        try:
            self.policy.authorize(user.identity.claims)
        except ForbiddenError as error:
            # The guard logged this request as allowed; the audit trail gets the refusal too.
            _audit_line(AuthDecision(False, error.code, 403, user.client_id,
                                     f"{request.method} {request.path}"))
            raise _refused(error, user.realm) from None
        return True


class UserPermission(ServicePermission):
    """DRF permission: the caller's token is a user token meeting a
    :class:`~svcauth.receiver.UserPolicy`."""

    allowed_clients: ClassVar[Collection[str] | None] = None
    """Clients (``azp``) whose user tokens are admitted; ``None`` (the default) adds no
    filter to the one the user guard applied (``USER_ALLOWED_CLIENTS``)."""

    @classmethod
    def make_policy(cls, allowed_clients: Collection[str] | None, required_roles: Collection[str],
                    required_scopes: Collection[str]) -> Any:
        """The policy these options describe."""
        return UserPolicy(allowed_clients=allowed_clients, required_roles=required_roles,
                          required_scopes=required_scopes)
