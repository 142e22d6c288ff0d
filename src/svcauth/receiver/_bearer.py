"""Reading the bearer token out of a request's ``Authorization`` header (pure).

RFC 6750 §2.1 fixes the syntax: ``credentials = "Bearer" 1*SP b64token``, the scheme
case-insensitive (RFC 7235 §2.1), ``b64token = 1*(ALPHA / DIGIT / "-" / "." / "_" / "~" / "+"
/ "/") *"="``. How each kind of input is answered, and why:

=========================================  ==========================  ======================
input                                      error (code)                answer
=========================================  ==========================  ======================
no header, or an empty one                 MissingTokenError           401, no ``error``
                                           (``token_missing``)
another scheme (``Basic ...``, ``DPoP``)   MissingTokenError           401, no ``error``
                                           (``scheme_unsupported``)    (RFC 6750 §3.1: an
                                                                       unsupported method is
                                                                       "no authentication")
``Bearer`` with nothing or a bad token68   InvalidRequestError         400 invalid_request
                                           (``authorization_malformed``)
two or more ``Authorization`` headers      InvalidRequestError         400 invalid_request
                                           (``authorization_repeated``)
a header and an ``access_token`` query     InvalidRequestError         400 invalid_request
parameter                                  (``credentials_multiple``)  (RFC 6750 §3.1)
=========================================  ==========================  ======================

Query-string and form-body tokens (RFC 6750 §2.2/§2.3) are not accepted: alone they count
as no credentials; next to a header they make the request ambiguous and are refused.
The ``authorization_values``/``has_query_token``/``url_path`` helpers read what the
integrations need straight from an ASGI scope, building no framework objects per request.
Header values are taken as the server decoded them (ISO-8859-1 for ASGI/WSGI); any byte
outside the b64token alphabet is refused, so no later stage sees control characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from .._errors import InvalidRequestError, MissingTokenError

__all__ = ["authorization_values", "has_query_token", "parse_authorization", "url_path"]

# One scheme word, a run of spaces, the token68 and nothing else. The token part is matched
# with a possessive-free, linear pattern: no backtracking blow-up on long inputs.
_CREDENTIALS = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?", re.DOTALL)
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# The common case in one match: "Bearer", spaces, a b64token. Anything else (or a query
# token alongside) takes the full path below, which names the exact error.
_PLAIN_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)")
# RFC 7230 §3.2.3: OWS around a field value is not part of it.
_OWS = " \t"
_AUTHORIZATION = b"authorization"


def authorization_values(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every ``Authorization`` value among ASGI ``headers`` (name matched case-insensitively),
    decoded as ISO-8859-1 like Starlette's ``Headers.getlist``; no ``Headers`` object built.
    """
    return [value.decode("latin-1") for name, value in headers
            if len(name) == 13 and (name == _AUTHORIZATION or name.lower() == _AUTHORIZATION)]


def has_query_token(query_string: bytes) -> bool:
    """Whether the raw ASGI ``query_string`` holds an ``access_token`` parameter, decoded
    as Starlette's ``QueryParams`` decodes it (so ``access%5Ftoken`` counts too).

    Parsed only when ``access_token`` or a ``%`` occurs in it: no work for most requests.
    """
    if b"access_token" not in query_string and b"%" not in query_string:
        return False
    query = query_string.decode("latin-1")
    return any(key == "access_token" for key, _ in parse_qsl(query, keep_blank_values=True))


def url_path(scope: Mapping[str, Any]) -> str:
    """The request path as Starlette's ``request.url.path`` spells it (``?``, ``#`` and ``\\``
    percent-escaped), for audit lines; no ``URL`` object built."""
    path: str = scope.get("path", "")
    if "?" in path or "#" in path or "\\" in path:
        path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    return path


def parse_authorization(
    authorization: str | Sequence[str] | None, *, query_token: bool = False
) -> str:
    """The bearer token carried by the request's ``Authorization`` header value(s).

    ``authorization`` is every value of the header in the request (a list, so that repeated
    headers can be refused), a single value, or ``None`` when absent. ``query_token`` says
    whether the request also carried an ``access_token`` query parameter.

    >>> parse_authorization(["bearer eyJ.eyJ.sig"])
    'eyJ.eyJ.sig'

    Raises :class:`~svcauth.MissingTokenError` or :class:`~svcauth.InvalidRequestError`
    (codes in the module docstring). Messages never hold the header value.
    """
    if not query_token and type(authorization) is list and len(authorization) == 1:
        plain = _PLAIN_BEARER.fullmatch(authorization[0].strip(_OWS))
        if plain is not None:
            return plain.group(1)
    values: Sequence[str]
    if authorization is None:
        values = ()
    elif isinstance(authorization, str):
        values = (authorization,)
    else:
        values = authorization
    if len(values) > 1:
        raise InvalidRequestError(
            f"expected one Authorization header, found {len(values)}",
            code="authorization_repeated",
        )
    value = values[0].strip(_OWS) if values else ""
    if not value:
        if query_token:
            raise MissingTokenError(
                "expected an Authorization: Bearer header, found only an access_token query "
                "parameter (not accepted)",
                code="token_missing",
            )
        raise MissingTokenError("expected an Authorization: Bearer header, found none")
    match = _CREDENTIALS.fullmatch(value)
    if match is None:
        raise InvalidRequestError(
            "expected 'Bearer <token>' in the Authorization header, found a value that is not "
            "an RFC 7235 credential",
            code="authorization_malformed",
        )
    scheme, token = match.group(1), match.group(2)
    if scheme.lower() != "bearer":
        if query_token:
            raise InvalidRequestError(
                "expected one credential, found an Authorization header and an access_token "
                "query parameter",
                code="credentials_multiple",
            )
        raise MissingTokenError(
            f"expected the Bearer scheme, found another scheme ({len(scheme)} characters)",
            code="scheme_unsupported",
        )
    if token is None or _B64TOKEN.fullmatch(token) is None:
        raise InvalidRequestError(
            "expected 'Bearer <token>' with an RFC 6750 b64token, found a missing or "
            "malformed token",
            code="authorization_malformed",
        )
    if query_token:
        raise InvalidRequestError(
            "expected one credential, found an Authorization header and an access_token query "
            "parameter",
            code="credentials_multiple",
        )
    return token
