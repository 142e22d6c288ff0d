"""The token endpoint exchange as pure functions: build the request, parse the answer.

No I/O here: the shells in :mod:`svcauth.caller._fetch_flow` send what these build.
"""

from __future__ import annotations

import email.utils
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import BODY_CAP, TokenEndpointError
from ._client_auth import ClientAuth
from ._token import Token

DEFAULT_LIFETIME = 60.0
"""Lifetime assumed for a token whose response carried no ``expires_in``."""


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One ``POST`` to the token endpoint. Headers and form hold credentials: not in repr."""

    url: str
    headers: Mapping[str, str] = field(repr=False)
    form: Sequence[tuple[str, str]] = field(repr=False)
    timeout: float = 5.0


def build_token_request(
    *, token_endpoint: str, client_id: str, auth: ClientAuth, scope: Sequence[str] = (),
    audience: str | None = None, resource: Sequence[str] = (), timeout: float = 5.0,
) -> TokenRequest:
    """The client-credentials request (RFC 6749 §4.4.2) authenticated with ``auth``.

    ``scope`` is sent space-joined, ``audience`` as is, each ``resource`` (RFC 8707) as its
    own field.
    """
    auth_headers, auth_form = auth.apply(client_id, token_endpoint)
    form: list[tuple[str, str]] = [("grant_type", "client_credentials")]
    if scope:
        form.append(("scope", " ".join(scope)))
    if audience:
        form.append(("audience", audience))
    form.extend(("resource", r) for r in resource)
    form.extend(auth_form)
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        **auth_headers,
    }
    return TokenRequest(url=token_endpoint, headers=headers, form=tuple(form), timeout=timeout)


def parse_retry_after(value: str | None, *, wall_now: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        # str.isdigit() admits digits of every script ("²", "٣"); only ASCII is a delta.
        return float(value) if value.isascii() else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - wall_now)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, int | float | str):
        return None
    try:
        result = float(value)
    except (ValueError, OverflowError):  # "abc", or an integer past float range (10**400)
        return None
    return result if math.isfinite(result) and result > 0 else None


def _invalid_success(status: int, what: str) -> TokenEndpointError:
    # The body of a 2xx may hold a token: it never goes into the error.
    exc = TokenEndpointError(status=status, error=None, error_description=what)
    exc.code = "token_response_invalid"
    return exc


def parse_token_response(
    status: int, headers: Mapping[str, str], body: bytes, *, issued_at: float, wall_now: float,
    dpop: bool = False,
) -> Token:
    """A :class:`Token` from a 200 answer, else raise :class:`TokenEndpointError`.

    ``issued_at`` is when the request was sent, on the caller's clock; ``wall_now`` is
    wall-clock time, used only for a ``Retry-After`` HTTP date. ``dpop``: the request
    carried a DPoP proof, so ``token_type`` ``DPoP`` is accepted too (and ``Bearer``, from a
    server that does not bind tokens: RFC 9449 §5).
    """
    if status == 200:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _invalid_success(status, "expected a JSON object, found unparsable body") from None
        if not isinstance(doc, dict):
            raise _invalid_success(status, "expected a JSON object")
        access_token = doc.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise _invalid_success(status, "expected a non-empty access_token")
        token_type = doc.get("token_type")
        kind = token_type.lower() if isinstance(token_type, str) else None
        if kind != "bearer" and not (dpop and kind == "dpop"):
            wanted = "Bearer or DPoP" if dpop else "Bearer"
            raise _invalid_success(status, f"expected token_type {wanted}, found {token_type!r}"[:120])
        expires_in = _number(doc.get("expires_in"))
        scope = doc.get("scope")
        return Token(
            access_token=access_token, token_type="DPoP" if kind == "dpop" else "Bearer",
            expires_in=expires_in,
            expires_at=issued_at + (expires_in if expires_in is not None else DEFAULT_LIFETIME),
            scope=scope if isinstance(scope, str) else None, issued_at=issued_at, raw=doc,
        )
    text = body[: BODY_CAP * 4].decode("utf-8", errors="replace")
    error: str | None = None
    description: str | None = None
    error_uri: str | None = None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict):
        e, d, u = doc.get("error"), doc.get("error_description"), doc.get("error_uri")
        error = e[:100] if isinstance(e, str) and e else None
        description = d[:300] if isinstance(d, str) and d else None
        error_uri = u[:300] if isinstance(u, str) and u else None
    lower = {k.lower(): v for k, v in headers.items()}
    raise TokenEndpointError(
        status=status, error=error, error_description=description, body=text,
        retry_after=parse_retry_after(lower.get("retry-after"), wall_now=wall_now),
        error_uri=error_uri,
    )
