"""From a refusal to a gRPC status and trailing metadata (pure; no grpc import).

The decision is :func:`svcauth.receiver.refusal_for`'s, so gRPC answers exactly what the HTTP
integrations answer, translated:

=====================  ==========================  ==========================================
HTTP (refusal_for)     gRPC status                 why
=====================  ==========================  ==========================================
401                    ``UNAUTHENTICATED``         no, or no acceptable, credentials
400 invalid_request    ``UNAUTHENTICATED``         the credentials are malformed; gRPC's
                                                   ``INVALID_ARGUMENT`` speaks of the request
                                                   message, not of the credentials
403                    ``PERMISSION_DENIED``       a valid caller that may not do this
503                    ``UNAVAILABLE``             the receiver cannot verify now: gRPC
                                                   clients and retry policies retry it
=====================  ==========================  ==========================================

Trailing metadata carries the machine-readable reason, never the token:

* ``svcauth-error``: the stable code (``token_expired``, ``insufficient_scope``, ...);
* ``www-authenticate``: the RFC 6750 challenge, when the HTTP answer has one;
* ``retry-after``: seconds, for ``UNAVAILABLE``.

The status details are the seed's fixed message for the code (``Token expired``,
``Insufficient scope``), the same text as the HTTP body's ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .._errors import SvcAuthError
from ..receiver._dpop import DPoPSettings
from ..receiver._rfc6750 import DEFAULT_RETRY_AFTER, refusal_for

__all__ = ["ERROR_KEY", "GrpcRefusal", "grpc_refusal_for"]

ERROR_KEY = "svcauth-error"
"""The trailing-metadata key holding the refusal's stable code."""

_STATUS_BY_HTTP: Mapping[int, str] = {
    400: "UNAUTHENTICATED",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
}


@dataclass(frozen=True, slots=True)
class GrpcRefusal:
    """A refusal ready to send as a gRPC status."""

    status: str
    """The ``grpc.StatusCode`` member name: ``UNAUTHENTICATED``, ``PERMISSION_DENIED`` or
    ``UNAVAILABLE``."""
    details: str
    """The status details: the fixed message for the code (never the token)."""
    trailing_metadata: tuple[tuple[str, str], ...]
    """``svcauth-error``, then ``www-authenticate`` / ``retry-after`` when they apply."""
    code: str
    """The error's stable code."""


def grpc_refusal_for(
    error: SvcAuthError, *, realm: str = "svcauth", retry_after: int = DEFAULT_RETRY_AFTER,
    dpop: DPoPSettings | None = None,
) -> GrpcRefusal:
    """The gRPC answer to ``error`` (see the module docstring for the table).

    >>> from svcauth import MissingTokenError
    >>> grpc_refusal_for(MissingTokenError("none"), realm="techstore").trailing_metadata
    (('svcauth-error', 'token_missing'), ('www-authenticate', 'Bearer realm="techstore"'))

    ``dpop``: the method's DPoP settings (the challenge then names the DPoP scheme too).
    """
    refusal = refusal_for(error, realm=realm, retry_after=retry_after, dpop=dpop)
    metadata: list[tuple[str, str]] = [(ERROR_KEY, refusal.code)]
    challenge = refusal.header("WWW-Authenticate")
    if challenge is not None:
        metadata.append(("www-authenticate", challenge))
    retry = refusal.header("Retry-After")
    if retry is not None:
        metadata.append(("retry-after", retry))
    return GrpcRefusal(
        status=_STATUS_BY_HTTP.get(refusal.status, "UNAVAILABLE"),
        details=refusal.body["error"],
        trailing_metadata=tuple(metadata),
        code=refusal.code,
    )
