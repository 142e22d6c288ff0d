"""``Guard``: one request's way in. Authorization header → bearer token → verified claims →
policy → identity. Integrations call only a ``Guard`` and :func:`refusal_for`.

Order matters: the header is parsed first (no token, no work), the signature and claims are
verified next, and the policy (who may call) is decided only on verified claims.

With DPoP on (``dpop=DPoPSettings(mode="allowed" | "required")``) an ``Authorization: DPoP``
token is verified by ``Verifier.verify_dpop`` (cached), and then, on every request, its
proof (``svcauth.receiver._dpop``) and the binding ``cnf.jkt`` == proof key thumbprint.

The cached path. A header of the exact shape ``Bearer <token>`` (one value, one space, no
query token) is split without a regex and its token looked up in the verifier's
verified-token cache; when that entry already holds this guard's policy decision (kept by
:meth:`VerifiedTokenCache.decide` after a full pass), that identity is the answer. Only a
*pure* policy (``pure = True``: its decision is a function of the verified claims alone, as
for ``ServicePolicy``, ``UserPolicy`` and ``OnBehalfOfPolicy``) is memoised this way; any
other policy runs on every request. What keeps this exact:

* an entry holds decisions only after the full path (RFC 6750 b64token check, verification,
  policy) admitted that very token string, so a spelling the full path refuses never finds
  one (a string with a space, tab or ``=`` inside is no cache key at all);
* the entry is served only while the cache would serve it (``exp``, ttl, key still in the
  JWKS, not evicted): the decision dies with the claims;
* a refusal is never memoised: every miss takes the full path and raises its exact code;
* the DPoP scheme's entries are keyed apart (``("DPoP", token)``), and a DPoP hit still
  checks its proof and ``cnf.jkt`` on every request; with DPoP ``required`` no Bearer
  header takes the cached path (the full path refuses it with ``dpop_required``).
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
    http_status,
)
from .._telemetry import _tally
from .._telemetry._audit import audit as _audit_line
from .._telemetry._audit import audit_log as _audit_log
from .._telemetry._records import proof_check
from .._telemetry._state import tracing
from ._bearer import parse_authorization
from ._cache import VerifiedTokenCache
from ._dpop import DPoPSettings, ProofVerifier
from ._introspection import IntrospectionVerifier
from ._request import RequestInfo, parse_credentials
from ._verifier import _BOUND, Verifier

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


_MISS: Any = object()  # the cached path has no answer: take the full one


class _BoundHit:
    """A memoised decision on a DPoP-bound token: the proof is still checked per request."""

    __slots__ = ("claims", "identity", "token")

    def __init__(self, claims: Any, identity: Any, token: str) -> None:
        self.claims = claims
        self.identity = identity
        self.token = token


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
        self.verifier = verifier

    @property
    def verifier(self) -> _Verifier:
        """The verifier; setting another one also moves the cached path onto its cache."""
        return self._verifier

    @verifier.setter
    def verifier(self, verifier: _Verifier) -> None:
        cache = verifier.cache if isinstance(verifier, Verifier | IntrospectionVerifier) else None
        self._memo: VerifiedTokenCache | None = cache
        # Bearer takes the cached path unless DPoP is required (then Bearer is refused).
        self._bearer_memo = cache if self.dpop is None or self.dpop.mode != "required" else None
        self._verifier = verifier

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
        """The proof fits the request and the token, and its key is the token's ``cnf.jkt``
        (in a ``svcauth.dpop.proof`` span while tracing)."""
        if tracing():
            with proof_check():
                self._check_proof_now(claims, token, request)
        else:
            self._check_proof_now(claims, token, request)

    def _check_proof_now(self, claims: Any, token: str, request: RequestInfo | None) -> None:
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
        served = self._serve_cached(authorization, query_token, request, endpoint)
        if served is not _MISS:
            return served  # type: ignore[no-any-return]
        claims = None
        try:
            bound, token = self._token(authorization, query_token)
            if bound:
                claims = self.verifier.verify_dpop(token)  # type: ignore[attr-defined]
                self._check_proof(claims, token, request)
            else:
                claims = self.verifier.verify(token)
            identity = self._decide(claims, token, bound)
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
        served = self._serve_cached(authorization, query_token, request, endpoint)
        if served is not _MISS:
            return served  # type: ignore[no-any-return]
        claims = None
        try:
            bound, token = self._token(authorization, query_token)
            if bound:
                claims = await self.verifier.averify_dpop(token)  # type: ignore[attr-defined]
                self._check_proof(claims, token, request)
            else:
                claims = await self.verifier.averify(token)
            identity = self._decide(claims, token, bound)
        except SvcAuthError as exc:
            self._record_refusal(exc, endpoint, claims)
            raise
        except Exception as exc:
            raise self._unexpected(exc, endpoint) from None
        self._allowed(identity, endpoint)
        return identity

    def _token(self, authorization: str | Sequence[str] | None,
               query_token: bool) -> tuple[bool, str]:
        """(DPoP scheme?, token) by the full RFC 6750 / RFC 9449 parse."""
        if self.dpop is None:
            return False, parse_authorization(authorization, query_token=query_token)
        return self._dpop_token(authorization, query_token)

    def _serve_cached(self, authorization: str | Sequence[str] | None, query_token: bool,
                      request: RequestInfo | None, endpoint: str | None) -> Any:
        """The cached path: the memoised identity (a DPoP token's proof checked first), or
        ``_MISS`` for the full path. Fails closed and audits as the full path does."""
        claims = None
        try:
            hit = self._cached(authorization, query_token)
            if hit is None:
                return _MISS
            if type(hit) is _BoundHit:  # a DPoP token: its proof, every request
                claims = hit.claims
                self._check_proof(claims, hit.token, request)
                hit = hit.identity
        except SvcAuthError as exc:
            self._record_refusal(exc, endpoint, claims)
            raise
        except Exception as exc:
            raise self._unexpected(exc, endpoint) from None
        self._allowed(hit, endpoint)
        return hit

    def _cached(self, authorization: str | Sequence[str] | None, query_token: bool) -> Any:
        """The memoised decision for a plain ``Bearer <token>`` (the identity) or ``DPoP
        <token>`` header (a :class:`_BoundHit`, whose proof the caller checks), when the
        token's cache entry holds this policy's; ``None`` sends the request the full way."""
        if self._memo is None or query_token:
            return None
        value: Any
        kind = type(authorization)
        if kind is list or kind is tuple:
            if len(authorization) != 1:  # type: ignore[arg-type]
                return None
            value = authorization[0]  # type: ignore[index]
            if type(value) is not str:
                return None
        elif kind is str:
            value = authorization
        else:
            return None
        if value[6:7] == " " and self._bearer_memo is not None and value[:6].lower() == "bearer":
            return self._bearer_memo.decided(value[7:], self.policy)
        if value[4:5] == " " and self.dpop is not None and value[:4].lower() == "dpop":
            return self._memo.decided((_BOUND, value[5:]), self.policy)
        return None

    def _decide(self, claims: Any, token: str, bound: bool) -> _I:
        """The policy's decision on verified ``claims``, remembered with their cache entry
        when the policy is pure (a refusal raises and is never remembered)."""
        policy = self.policy
        identity = policy.authorize(claims)
        memo = self._memo
        if memo is not None and getattr(policy, "pure", False) is True:
            if bound:
                memo.decide((_BOUND, token), claims, policy, _BoundHit(claims, identity, token))
            else:
                memo.decide(token, claims, policy, identity)
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
        status = http_status(exc)
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
