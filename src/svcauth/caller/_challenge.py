"""When a 401 from a resource server is worth one retry with a fresh token (RFC 6750 §3)."""

from __future__ import annotations

import logging
import re
from typing import Protocol, runtime_checkable

from ._unauthorized import UnauthorizedVerdict

log = logging.getLogger("svcauth.caller")


class _Invalidating(Protocol):
    def invalidate(self, access_token: str) -> bool: ...

_ERROR = re.compile(r"""(?:^|[\s,])error\s*=\s*(?:"(?P<q>[^"]*)"|(?P<t>[^\s,]+))""", re.IGNORECASE)


@runtime_checkable
class _Judging(Protocol):
    """A source that gives the 401 verdict with its reason (``CachingTokenSource``)."""

    def unauthorized(self, access_token: str) -> UnauthorizedVerdict: ...


def bearer_error(www_authenticate: str | None) -> str | None:
    """The ``error`` parameter of the header's challenges, ``None`` when there is none."""
    if not www_authenticate:
        return None
    match = _ERROR.search(www_authenticate)
    if match is None:
        return None
    return match.group("q") if match.group("q") is not None else match.group("t")


def should_retry_unauthorized(status: int, www_authenticate: str | None) -> bool:
    """True for a 401 whose challenge says ``error="invalid_token"`` or names no error.

    A 403 (the token is fine, the caller may not) and any other error never qualify.
    """
    if status != 401:
        return False
    error = bearer_error(www_authenticate)
    return error is None or error == "invalid_token"


def quoted_challenge(www_authenticate: str | None) -> str:
    """The receiver's challenge as a log line quotes it (capped, control characters out)."""
    if not www_authenticate:
        return "no WWW-Authenticate header"
    clean = "".join(ch if ch.isprintable() else "?" for ch in www_authenticate[:300])
    return f"WWW-Authenticate: {clean}"


def retry_unauthorized(source: _Invalidating, access_token: str, status: int,
                       www_authenticate: str | None, *, url: str = "") -> bool:
    """The one 401 decision of every caller integration (httpx, requests, and later ones).

    True when the request should be resent once with ``source.token()``: the answer is a
    401 worth a retry (:func:`should_retry_unauthorized`) and the source's no-storm rule
    agrees (:meth:`~svcauth.caller.CachingTokenSource.invalidate`). When the rule declines,
    the 401 goes to the application as it came, and one warning on ``svcauth.caller``
    names the reason and quotes the receiver's challenge.
    """
    if not should_retry_unauthorized(status, www_authenticate):
        return False
    if not isinstance(source, _Judging):  # another TokenSource: its invalidate() decides
        return bool(source.invalidate(access_token))
    verdict = source.unauthorized(access_token)
    if verdict.retry:
        return True
    log.warning("401 from %s not retried: %s (%s)", url or "the resource server",
                verdict.explain(), quoted_challenge(www_authenticate))
    return False
