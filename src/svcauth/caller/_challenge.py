"""When a 401 from a resource server is worth one retry with a fresh token (RFC 6750 §3)."""

from __future__ import annotations

import re

_ERROR = re.compile(r"""(?:^|[\s,])error\s*=\s*(?:"(?P<q>[^"]*)"|(?P<t>[^\s,]+))""", re.IGNORECASE)


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
