"""``Guard``: one request's way in. Authorization header → bearer token → verified claims →
policy → identity. Integrations call only a ``Guard`` and :func:`refusal_for`.

Order matters: the header is parsed first (no token, no work), the signature and claims are
verified next, and the policy (who may call) is decided only on verified claims.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .._errors import InvalidTokenError, SvcAuthError
from .._telemetry import _tally
from .._telemetry._audit import audit as _audit_line
from .._telemetry._audit import audit_log as _audit_log
from ._bearer import parse_authorization

__all__ = ["AuthDecision", "Guard"]

log = logging.getLogger("svcauth.receiver")

IdentityT = TypeVar("IdentityT", covariant=True)
_I = TypeVar("_I")


class _Verifier(Protocol):
    def verify(self, token: str) -> Any: ...

    def averify(self, token: str) -> Awaitable[Any]: ...


class _Policy(Protocol[IdentityT]):
    def authorize(self, claims: Any) -> IdentityT: ...


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """What a ``Guard`` decided for one request, handed to its ``audit`` callback.

    It never holds the token or a claim value other than the caller's client id.
    """

    allowed: bool
    """True when the request got in."""
    code: str | None
    """The refusal's stable code (``token_expired``, ...), ``None`` when allowed."""
    status: int
    """The HTTP status the refusal maps to (200 when allowed)."""
    client_id: str | None
    """The caller's client id when known (allowed requests and policy refusals)."""
    endpoint: str | None = None
    """``METHOD /path`` of the request when the integration said (never the query)."""


def _client_id(identity: object) -> str | None:
    value = getattr(identity, "client_id", None)
    return value if isinstance(value, str) else None


def _verified_caller(claims: Any) -> str | None:
    if claims is None:
        return None
    value = getattr(claims, "azp", None) or getattr(claims, "client_id", None)
    return value if isinstance(value, str) else None


class Guard(Generic[_I]):
    """Verifier + policy + bearer header parsing, for framework integrations.

    >>> guard = Guard(verifier, ServicePolicy(allowed_clients=("shop-api",)))  # doctest: +SKIP
    >>> identity = guard.authenticate(request.headers.getlist("authorization"))  # doctest: +SKIP

    ``realm`` is the ``WWW-Authenticate`` realm integrations announce. ``audit``, when given,
    is called with an :class:`AuthDecision` for every request (its own failures are logged
    and ignored, never turned into a refusal or a 500). Every decision is also one JSON line
    on logger ``svcauth.audit`` (see :mod:`svcauth.telemetry`), whatever ``audit`` is. With
    neither (no ``audit``, that logger not enabled for INFO) an allowed request builds no
    decision at all.
    """

    def __init__(
        self,
        verifier: _Verifier,
        policy: _Policy[_I],
        *,
        realm: str = "svcauth",
        audit: Callable[[AuthDecision], None] | None = None,
    ) -> None:
        self.verifier = verifier
        self.policy = policy
        self.realm = realm
        self.audit = audit

    def authenticate(
        self, authorization: str | Sequence[str] | None, *, query_token: bool = False,
        endpoint: str | None = None,
    ) -> _I:
        """The caller's identity, or an :class:`~svcauth.AuthError` /
        :class:`~svcauth.KeySetUnavailableError` saying why not.

        ``authorization`` is every ``Authorization`` header value of the request;
        ``query_token`` whether an ``access_token`` query parameter came too; ``endpoint``
        (``METHOD /path``) goes into the audit line.
        Blocking (a JWKS fetch may happen): async code calls :meth:`aauthenticate`.
        """
        claims = None
        try:
            token = parse_authorization(authorization, query_token=query_token)
            claims = self.verifier.verify(token)
            identity = self.policy.authorize(claims)
        except SvcAuthError as exc:
            self._record_refusal(exc, endpoint, claims)
            raise
        except Exception as exc:
            raise self._unexpected(exc, endpoint) from None
        self._allowed(identity, endpoint)
        return identity

    async def aauthenticate(
        self, authorization: str | Sequence[str] | None, *, query_token: bool = False,
        endpoint: str | None = None,
    ) -> _I:
        """Async twin of :meth:`authenticate`; never blocks the event loop."""
        claims = None
        try:
            token = parse_authorization(authorization, query_token=query_token)
            claims = await self.verifier.averify(token)
            identity = self.policy.authorize(claims)
        except SvcAuthError as exc:
            self._record_refusal(exc, endpoint, claims)
            raise
        except Exception as exc:
            raise self._unexpected(exc, endpoint) from None
        self._allowed(identity, endpoint)
        return identity

    def _allowed(self, identity: object, endpoint: str | None) -> None:
        # No record is built unless someone reads it: this runs on every allowed request.
        if self.audit is not None or _audit_log.isEnabledFor(logging.INFO):
            self._record(AuthDecision(True, None, 200, _client_id(identity), endpoint))

    def _unexpected(self, exc: Exception, endpoint: str | None) -> InvalidTokenError:
        # Fail closed without a traceback: an input the verifier did not foresee is an
        # invalid token, not a 500. Only the exception type is logged (its message might
        # quote the input).
        log.error("svcauth: unexpected %s while verifying a token; refused as invalid_token",
                  type(exc).__name__)
        error = InvalidTokenError("the token could not be processed", code="token_unprocessable")
        self._record_refusal(error, endpoint)
        return error

    def _record_refusal(self, exc: SvcAuthError, endpoint: str | None,
                        claims: Any = None) -> None:
        # A policy refusal comes after verification: the verified azp names the caller.
        status = int(getattr(exc, "status", 503))
        _tally.refusals[(exc.code, status)] += 1
        client_id = _client_id(exc) or _verified_caller(claims)
        self._record(AuthDecision(False, exc.code, status, client_id, endpoint))

    def _record(self, decision: AuthDecision) -> None:
        try:
            _audit_line(decision)
        except Exception as exc:
            log.warning("svcauth: audit log failed with %s", type(exc).__name__)
        if self.audit is None:
            return
        try:
            self.audit(decision)
        except Exception as exc:
            log.warning("svcauth: audit callback failed with %s", type(exc).__name__)
