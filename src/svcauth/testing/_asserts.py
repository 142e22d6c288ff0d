"""Asserting that a response is svcauth's refusal: status, JSON body and ``WWW-Authenticate``.

The expected answer is not written down a second time: :func:`expected_refusal` builds the
error a code stands for and asks :func:`svcauth.receiver.refusal_for` what it answers, so
the assertion follows the receiver's table (see ``receiver/_rfc6750.py``) by construction.

Responses are duck-typed: a ``status_code`` (httpx, requests, Starlette's, Flask's and
Django's test clients) or ``status`` (aiohttp) attribute, ``headers`` with ``items()``, and
``get_json()`` (Flask) or ``json()``. A body that must be awaited (aiohttp) is passed as
``body=await resp.json()``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from .._errors import (
    ForbiddenError,
    InvalidRequestError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingTokenError,
    SvcAuthError,
)
from ..receiver._rfc6750 import Refusal, refusal_for

__all__ = ["assert_refused", "expected_refusal"]

_MISSING_TOKEN_CODES = frozenset({"token_missing", "scheme_unsupported"})
_BAD_REQUEST_CODES = frozenset(
    {"invalid_request", "authorization_repeated", "authorization_malformed",
     "credentials_multiple"})
_FORBIDDEN_CODES = frozenset(
    {"forbidden", "not_service_account", "unauthorized_service", "not_user_token",
     "unauthorized_client", "insufficient_scope"})
_UNAVAILABLE_CODES = frozenset({"jwks_unavailable", "introspection_unavailable"})
_PARAM = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
_SHOWN = 300


def _error_for(code: str) -> SvcAuthError:
    if code in _MISSING_TOKEN_CODES:
        return MissingTokenError(code, code=code)
    if code in _BAD_REQUEST_CODES:
        return InvalidRequestError(code, code=code)
    if code in _FORBIDDEN_CODES:
        return ForbiddenError(code, code=code, required=("x",))
    if code in _UNAVAILABLE_CODES:
        return KeySetUnavailableError(code, code=code)
    return InvalidTokenError(code, code=code)


def expected_refusal(code: str, *, realm: str = "svcauth", include_code: bool = False) -> Refusal:
    """The refusal svcauth answers for ``code`` (``token_expired``, ``insufficient_scope``,
    ...). An ``insufficient_scope`` challenge names a placeholder scope ``x``.

    >>> expected_refusal("token_expired").status
    401
    """
    return refusal_for(_error_for(code), realm=realm, include_code=include_code)


def _status(response: Any) -> Any:
    for name in ("status_code", "status"):
        value = getattr(response, name, None)
        if isinstance(value, int):
            return value
    raise TypeError(f"assert_refused: expected a response with status_code or status, found "
                    f"{type(response).__name__}")


def _header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None)
    if headers is None:
        raise TypeError(f"assert_refused: expected a response with headers, found "
                        f"{type(response).__name__}")
    items = headers.items() if hasattr(headers, "items") else headers
    found = [_text(v) for k, v in items if _text(k).lower() == name.lower()]
    return ", ".join(found) if found else None


def _text(value: Any) -> str:
    # Raw ASGI-style header pairs are bytes; HTTP header bytes are Latin-1.
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _body(response: Any) -> Any:
    # Werkzeug's (Flask's) test response has json as a property and get_json() as the call.
    reader = getattr(response, "get_json", None)
    if not callable(reader):
        reader = getattr(response, "json", None)
    if not callable(reader):
        raise TypeError(f"assert_refused: expected a response with json(), found "
                        f"{type(response).__name__}; pass body=")
    try:
        value = reader()
    except Exception as exc:  # any client's "not JSON" error
        return _NotJson(f"{type(exc).__name__} reading the body as JSON")
    if value is None and reader.__name__ == "get_json":
        return _NotJson("get_json() found no JSON body")
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        raise TypeError("assert_refused: this response's json() must be awaited: pass "
                        "body=await response.json()")
    return value


class _NotJson:
    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"<no JSON body: {self.why}>"


def challenge_params(value: str) -> tuple[str, dict[str, str]]:
    """``("Bearer", {"realm": ..., "error": ...})`` from one ``WWW-Authenticate`` value.

    >>> challenge_params('Bearer realm="api", error="invalid_token"')
    ('Bearer', {'realm': 'api', 'error': 'invalid_token'})
    """
    scheme, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        text = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or "")
        params.setdefault(match.group(1).lower(), text)
    return scheme, params


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _check_challenge(found: str | None, expected: str | None, realm: str | None,
                     scope: str | None) -> list[str]:
    if expected is None:
        return [] if found is None else [
            f"WWW-Authenticate: expected none (no other token would help), found {found!r}"]
    if found is None:
        return [f"WWW-Authenticate: expected {expected!r}, found none"]
    _, want = challenge_params(expected)
    scheme, have = challenge_params(found)
    problems = []
    if scheme.lower() != "bearer":
        problems.append(f"WWW-Authenticate: expected a Bearer challenge, found {found!r}")
    if realm is not None:
        want["realm"] = realm
    else:
        want.pop("realm")
        if "realm" not in have:
            problems.append(f"WWW-Authenticate: expected a realm parameter, found {found!r}")
    if "scope" in want:
        if scope is None:
            want.pop("scope")
            if not have.get("scope"):
                problems.append(f"WWW-Authenticate: expected a scope parameter naming what "
                                f"is missing, found {found!r}")
        else:
            want["scope"] = scope
    for name, value in want.items():
        if have.get(name) != value:
            problems.append(f"WWW-Authenticate {name}: expected {value!r}, found "
                            f"{have.get(name)!r} (in {found!r})")
    extra = sorted(set(have) - set(want) - {"realm", "scope"})
    if extra:
        problems.append(f"WWW-Authenticate: expected no parameters {extra}, found {found!r}")
    return problems


def assert_refused(
    response: Any,
    status: int | None = None,
    code: str | None = None,
    *,
    realm: str | None = None,
    scope: str | None = None,
    body: Any = None,
) -> None:
    """Assert that ``response`` is svcauth's refusal for ``code`` (and ``status``).

    Checks the status, the JSON body (``{"error": <the code's message>}``, and ``code``
    when the body carries one), ``WWW-Authenticate`` (a ``Bearer`` challenge with the
    code's ``error`` and ``error_description``, or none for 403s other than
    ``insufficient_scope`` and for 503s), ``Retry-After`` on 503 and
    ``Cache-Control: no-store``. ``realm`` checks the challenge's realm exactly (default:
    any); ``scope`` the ``insufficient_scope`` challenge's scope exactly (default: any
    non-empty). With only ``status``, checks the status, a JSON ``error`` and the presence
    of a challenge on 401. Raises ``AssertionError`` listing every difference::

        assert_refused(client.get("/invoices", headers=expired), 401, "token_expired")
        assert_refused(response, 403, "insufficient_scope", scope="billing-api:invoices:write")

    Codes with the same answer (``token_missing`` and ``scheme_unsupported``) are told
    apart only by a body carrying ``code`` (``install_error_handlers(include_code=True)``).
    """
    if status is None and code is None:
        raise TypeError("assert_refused: expected a status, a code or both, found neither")
    expected = expected_refusal(code) if code is not None else None
    if expected is not None and status is not None and status != expected.status:
        raise ValueError(f"assert_refused: code {code!r} is answered with {expected.status}, "
                         f"not {status}: fix the expectation")
    want_status = expected.status if expected is not None else status
    found_status = _status(response)
    found_body = _body(response) if body is None else body
    problems: list[str] = []
    if found_status != want_status:
        problems.append(f"status: expected {want_status}, found {found_status}")
    if not isinstance(found_body, Mapping) or not isinstance(found_body.get("error"), str):
        problems.append(f'body: expected a JSON object {{"error": ...}}, found '
                        f"{_short(found_body)}")
    elif expected is not None:
        want_body = dict(expected.body)
        if "code" in found_body:
            want_body["code"] = expected.code
        if dict(found_body) != want_body:
            problems.append(f"body: expected {want_body!r}, found {_short(dict(found_body))}")
    challenge = _header(response, "WWW-Authenticate")
    if expected is not None:
        problems += _check_challenge(challenge, expected.header("WWW-Authenticate"), realm, scope)
        if expected.status == 503 and not _header(response, "Retry-After"):
            problems.append("Retry-After: expected a number of seconds, found none")
    elif want_status == 401 and (challenge is None or not challenge.lower().startswith("bearer")):
        problems.append(f"WWW-Authenticate: expected a Bearer challenge on 401, found "
                        f"{challenge!r}")
    cache = _header(response, "Cache-Control")
    if cache is None or "no-store" not in cache.lower():
        problems.append(f"Cache-Control: expected 'no-store', found {cache!r}")
    if problems:
        what = f"code {code!r}" if code is not None else f"status {status}"
        raise AssertionError(f"expected svcauth's refusal for {what}; differences:\n  - "
                             + "\n  - ".join(problems))
