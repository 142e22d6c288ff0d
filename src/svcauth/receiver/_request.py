"""What a ``Guard`` needs to know of a request beyond its ``Authorization`` header: method,
URL as the caller addressed it, and the ``DPoP`` header values (pure).

Integrations build one :class:`RequestInfo` per request only when the guard's DPoP mode is
on (``Guard.wants_request``): the Bearer-only path builds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import InvalidRequestError
from ._bearer import parse_authorization, url_path
from ._dpop import DPoPSettings

__all__ = ["RequestInfo", "dpop_values", "parse_credentials", "request_from_scope"]

_DPOP = b"dpop"
_HOST = b"host"
_DPOP_SCHEME = re.compile(r"[Dd][Pp][Oo][Pp] +([A-Za-z0-9\-._~+/]+=*)")
_DPOP_WORD = re.compile(r"[Dd][Pp][Oo][Pp](?: |$)")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One request as the receiver saw it, for proof-of-possession checks.

    ``url`` is absolute and without query (``https://api.example.com/payments``); the
    ``Guard`` compares it with a DPoP proof's ``htu``. A certificate-bound (RFC 8705) check
    would add the client certificate's thumbprint here.
    """

    method: str
    """The HTTP method, upper-case as sent (``POST``)."""
    url: str
    """Absolute URL without query or fragment."""
    dpop: Sequence[str] = ()
    """Every ``DPoP`` header value of the request (more than one is refused)."""


def dpop_values(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every ``DPoP`` value among ASGI ``headers`` (name matched case-insensitively)."""
    return [value.decode("latin-1") for name, value in headers
            if len(name) == 4 and name.lower() == _DPOP]


def request_from_scope(scope: Mapping[str, Any], settings: DPoPSettings) -> RequestInfo:
    """A :class:`RequestInfo` straight from an ASGI scope (no framework objects)."""
    headers = scope.get("headers", ())
    host = next((v.decode("latin-1") for n, v in headers if n.lower() == _HOST), None)
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    path, root = url_path(scope), scope.get("root_path", "")
    if root and not path.startswith(root):  # servers differ on whether path includes it
        path = root + path
    url = settings.request_url(scope.get("scheme", "http"), host, path)
    return RequestInfo(scope.get("method", "GET"), url, dpop_values(headers))


def parse_credentials(
    authorization: str | Sequence[str] | None, *, query_token: bool = False
) -> tuple[str, str]:
    """``("DPoP", token)`` for an ``Authorization: DPoP <token>`` header, else
    ``("Bearer", token)`` as :func:`~svcauth.receiver.parse_authorization` reads it (which
    raises its own errors for every other input)."""
    if not query_token and type(authorization) is list and len(authorization) == 1:
        value = authorization[0].strip(" \t")
        match = _DPOP_SCHEME.fullmatch(value)
        if match is not None:
            return "DPoP", match.group(1)
        if _DPOP_WORD.match(value):
            raise InvalidRequestError(
                "expected 'DPoP <token>' with an RFC 6750 b64token, found a missing or "
                "malformed token", code="authorization_malformed")
    elif isinstance(authorization, str):
        return parse_credentials([authorization], query_token=query_token)
    return "Bearer", parse_authorization(authorization, query_token=query_token)
