"""``Guard``: one request's way in. Authorization header → bearer token → verified claims →
policy → identity. Integrations call only a ``Guard`` and :func:`refusal_for`.

Order matters: the header is parsed first (no token, no work), the signature and claims are
verified next, and the policy (who may call) is decided only on verified claims.

With DPoP on (``dpop=DPoPSettings(mode="allowed" | "required")``) an ``Authorization: DPoP``
token is verified by ``Verifier.verify_dpop`` (cached), and then, on every request, its
proof (``svcauth.receiver._dpop``) and the binding ``cnf.jkt`` == proof key thumbprint.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .._errors import (
    ConfigurationError,
    InvalidDPoPProofError,
    InvalidTokenError,
    MissingTokenError,
    SvcAuthError,
)
from .._telemetry import _tally
from .._telemetry._audit import audit as _audit_line
from .._telemetry._audit import audit_log as _audit_log
from ._bearer import parse_authorization
from ._dpop import DPoPSettings, ProofVerifier
from ._request import RequestInfo, parse_credentials

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
    decision at all. ``dpop`` turns the DPoP scheme on for this guard's endpoints
    (``DPoPSettings(mode="allowed" | "required")``, see docs/dpop.md); integrations then pass
    a :class:`~svcauth.receiver.RequestInfo` per request.
    """

    def __init__(
        self,
        verifier: _Verifier,
        policy: _Policy[_I],
        *,
        realm: str = "svcauth",
        audit: Callable[[AuthDecision], None] | None = None,
        dpop: DPoPSettings | None = None,
    ) -> None:
        self.verifier = verifier
        self.policy = policy
        self.realm = realm
        self.audit = audit
        self.dpop = dpop if dpop is not None and dpop.enabled else None
        """The DPoP settings when the scheme is on (``allowed``/``required``), else ``None``."""
        self._proofs = ProofVerifier(self.dpop) if self.dpop is not None else None
        if self.dpop is not None and not hasattr(verifier, "verify_dpop"):
            raise ConfigurationError(f"Guard dpop: expected a verifier with verify_dpop "
                                     f"(svcauth.receiver.Verifier), found "
                                     f"{type(verifier).__name__}")

    @property
    def wants_request(self) -> bool:
        """Whether integrations must pass a :class:`RequestInfo` (DPoP is on)."""
        return self.dpop is not None

    def _dpop_token(self, authorization: str | Sequence[str] | None,
                    query_token: bool) -> tuple[bool, str]:
        """(DPoP scheme?, token); Bearer where DPoP is required is refused."""
        scheme, token = parse_credentials(authorization, query_token=query_token)
        if scheme == "Bearer" and self.dpop is not None and self.dpop.mode == "required":
            raise MissingTokenError("expected the DPoP scheme on this endpoint, found Bearer",
                                    code="dpop_required")
        return scheme == "DPoP", token

    def _check_proof(self, claims: Any, token: str, request: RequestInfo | None) -> None:
        """The proof fits the request and the token, and its key is the token's ``cnf.jkt``."""
        assert self._proofs is not None
        if request is None:
            raise ConfigurationError("Guard: DPoP is on but the integration passed no "
                                     "RequestInfo (request=...)")
        proofs = request.dpop
        if not proofs:
            raise InvalidDPoPProofError("expected a DPoP header with the DPoP scheme, found "
                                        "none", code="dpop_proof_missing")
        if len(proofs) > 1:
            raise InvalidDPoPProofError(f"expected one DPoP header, found {len(proofs)}",
                                        code="dpop_proof_repeated")
        proof = self._proofs.verify(proofs[0], method=request.method, url=request.url,
                                    access_token=token)
        if claims["cnf"]["jkt"] != proof.jkt:
            raise InvalidDPoPProofError("DPoP proof key: expected the key the token is bound "
                                        "to (cnf.jkt), found another", code="dpop_jkt_mismatch")

    def authenticate(
        self, authorization: str | Sequence[str] | None, *, query_token: bool = False,
        endpoint: str | None = None, request: RequestInfo | None = None,
    ) -> _I:
        """The caller's identity, or an :class:`~svcauth.AuthError` /
        :class:`~svcauth.KeySetUnavailableError` saying why not.

        ``authorization`` is every ``Authorization`` header value of the request;
        ``query_token`` whether an ``access_token`` query parameter came too; ``endpoint``
        (``METHOD /path``) goes into the audit line; ``request`` (method, URL, ``DPoP``
        headers) is needed when :attr:`wants_request`.
        Blocking (a JWKS fetch may happen): async code calls :meth:`aauthenticate`.
        """
        claims = None
        try:
            if self.dpop is None:
                token = parse_authorization(authorization, query_token=query_token)
                claims = self.verifier.verify(token)
            else:
                bound, token = self._dpop_token(authorization, query_token)
                if bound:
                    claims = self.verifier.verify_dpop(token)  # type: ignore[attr-defined]
                    self._check_proof(claims, token, request)
                else:
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
        endpoint: str | None = None, request: RequestInfo | None = None,
    ) -> _I:
        """Async twin of :meth:`authenticate`; never blocks the event loop."""
        claims = None
        try:
            if self.dpop is None:
                token = parse_authorization(authorization, query_token=query_token)
                claims = await self.verifier.averify(token)
            else:
                bound, token = self._dpop_token(authorization, query_token)
                if bound:
                    claims = await self.verifier.averify_dpop(token)  # type: ignore[attr-defined]
                    self._check_proof(claims, token, request)
                else:
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
