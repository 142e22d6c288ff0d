"""From a refusal (an :class:`~svcauth.AuthError` or an unavailable key set) to the HTTP
answer: status, headers and JSON body (pure; every integration calls only this).

Answers, by error (and code); ``WWW-Authenticate`` is always a ``Bearer`` challenge:

* ``MissingTokenError`` → 401 ``{"error": "No token provided"}``, challenge ``realm`` only.
* ``InvalidRequestError`` → 400 ``{"error": "Invalid request"}``, ``error="invalid_request"``.
* ``InvalidTokenError`` → 401 ``{"error": "Token expired"}`` (``token_expired``) or
  ``{"error": "Invalid token"}`` (every other code), ``error="invalid_token"``.
* ``ForbiddenError`` → 403: ``not_service_account`` ``{"error": "This endpoint only accepts
  service account tokens"}``, ``unauthorized_service`` ``{"error": "Unauthorized service"}``
  (no challenge), ``insufficient_scope`` ``{"error": "Insufficient scope"}`` with
  ``error="insufficient_scope", scope="<required>"``; ``UserPolicy``'s ``not_user_token``
  ``{"error": "This endpoint only accepts user tokens"}`` and ``unauthorized_client``
  ``{"error": "Unauthorized client"}`` (no challenge); other codes ``{"error": "Forbidden"}``.
* ``KeySetUnavailableError`` and any other ``SvcAuthError`` → 503 ``{"error":
  "Authentication temporarily unavailable"}`` with ``Retry-After``, no challenge.

Every refusal carries ``Content-Type: application/json`` and ``Cache-Control: no-store``.

With DPoP on (``dpop=`` the guard's :class:`~svcauth.receiver.DPoPSettings`), RFC 9449 §7.1:

* ``InvalidDPoPProofError`` → 401 ``{"error": "Invalid DPoP proof"}``, challenge ``DPoP
  realm=..., error="invalid_dpop_proof", error_description=..., algs="ES256 ..."`` only;
* ``UseDPoPNonceError`` → 401 ``{"error": "DPoP nonce required"}``, ``DPoP ...
  error="use_dpop_nonce"`` and the ``DPoP-Nonce`` header;
* every other challenge gets a ``DPoP`` challenge with the same parameters plus ``algs``:
  after the ``Bearer`` one when DPoP is ``allowed``, instead of it when ``required``.

Decisions:

* The body is exactly the seed's ``{"error": "<message>"}`` by default, so that clients
  comparing bodies keep working; ``include_code=True`` adds the stable ``code``
  (``{"error": "Token expired", "code": "token_expired"}``) for callers that want it.
* ``error_description`` is a fixed sentence chosen by code, never the exception message,
  so nothing of the token or its claims can reach the caller or a proxy's log.
* 403s other than ``insufficient_scope`` carry no ``WWW-Authenticate``: no other token
  would help, and RFC 6750 defines no error code for "wrong caller".
* A key set that cannot be had is the receiver's fault, not the caller's: 503 with
  ``Retry-After`` (default 30 s, the JWKS refetch cooldown), so callers retry instead of
  discarding a good token.
* Header values are RFC 7230 quoted-strings: characters outside printable ASCII are
  dropped, ``"`` and ``\\`` escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .._errors import (
    AuthError,
    ForbiddenError,
    InvalidDPoPProofError,
    InvalidRequestError,
    MissingTokenError,
    SvcAuthError,
    UseDPoPNonceError,
    http_status,
)
from ._dpop import DPoPSettings
from ._texts import (
    DESCRIPTIONS,
    DPOP_NONCE_REQUIRED,
    FORBIDDEN,
    FORBIDDEN_MESSAGES,
    GENERIC_DESCRIPTION,
    INVALID_DPOP_PROOF,
    INVALID_REQUEST,
    INVALID_TOKEN,
    NO_TOKEN,
    TOKEN_EXPIRED,
    UNAVAILABLE,
)

__all__ = ["Refusal", "quote_header_value", "refusal_for"]

# The texts live in ``_texts`` (one place); the old names stay importable from here.
_FORBIDDEN_MESSAGES = FORBIDDEN_MESSAGES
_DESCRIPTIONS = DESCRIPTIONS
_GENERIC_DESCRIPTION = GENERIC_DESCRIPTION

DEFAULT_RETRY_AFTER = 30


@dataclass(frozen=True, slots=True)
class Refusal:
    """An HTTP refusal ready to send."""

    status: int
    """The HTTP status: 400, 401, 403 or 503."""
    headers: tuple[tuple[str, str], ...]
    """Response headers (name, value), ``Content-Type`` included."""
    body: Mapping[str, str]
    """The JSON body, ``{"error": message}`` (plus ``code`` when asked for)."""
    code: str
    """The error's stable code (``token_expired``, ``unauthorized_service``, ...)."""

    @property
    def body_bytes(self) -> bytes:
        """The body serialised as compact UTF-8 JSON."""
        return json.dumps(dict(self.body), separators=(",", ":")).encode("utf-8")

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None``."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


def quote_header_value(value: str) -> str:
    """``value`` as an RFC 7230 quoted-string, including the quotes.

    Control characters, DEL and non-ASCII are dropped; ``"`` and ``\\`` are escaped.

    >>> quote_header_value('a"b')
    '"a\\\\"b"'
    """
    kept = "".join(c for c in value if " " <= c <= "~")
    return '"' + kept.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scope_tokens(required: tuple[str, ...]) -> str:
    # RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space separated.
    tokens = ("".join(c for c in item if "!" <= c <= "~" and c not in '"\\') for item in required)
    return " ".join(t for t in tokens if t)


def _challenge(realm: str, params: tuple[tuple[str, str], ...] = (),
               scheme: str = "Bearer") -> str:
    parts = [f"realm={quote_header_value(realm)}"]
    parts.extend(f"{name}={quote_header_value(value)}" for name, value in params)
    return f"{scheme} " + ", ".join(parts)


def _with_dpop(error: SvcAuthError, realm: str, bearer: str | None,
               params: tuple[tuple[str, str], ...], dpop: DPoPSettings) -> str | None:
    """The ``WWW-Authenticate`` value once DPoP is on (see the module docstring)."""
    algs = (("algs", " ".join(dpop.algorithms)),)
    if isinstance(error, InvalidDPoPProofError):
        return _challenge(realm, params + algs, "DPoP")
    if bearer is None:
        return None
    challenge = _challenge(realm, params + algs, "DPoP")
    return challenge if dpop.mode == "required" else f"{bearer}, {challenge}"


def refusal_for(
    error: SvcAuthError,
    *,
    realm: str = "svcauth",
    include_code: bool = False,
    retry_after: int = DEFAULT_RETRY_AFTER,
    dpop: DPoPSettings | None = None,
) -> Refusal:
    """The HTTP answer to ``error`` (see the module docstring for the table).

    >>> from svcauth import MissingTokenError
    >>> refusal_for(MissingTokenError("none")).status
    401
    """
    code = error.code
    description = _DESCRIPTIONS.get(code, _GENERIC_DESCRIPTION)
    challenge: str | None
    extra: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    status = http_status(error)
    if isinstance(error, MissingTokenError):
        message = NO_TOKEN
        challenge = _challenge(realm)
    elif isinstance(error, InvalidRequestError):
        message = INVALID_REQUEST
        params = (("error", "invalid_request"), ("error_description", description))
        challenge = _challenge(realm, params)
    elif isinstance(error, InvalidDPoPProofError):
        kind = "use_dpop_nonce" if isinstance(error, UseDPoPNonceError) else "invalid_dpop_proof"
        params = (("error", kind), ("error_description", description))
        challenge = _challenge(realm, params, "DPoP")
        if isinstance(error, UseDPoPNonceError):
            message = DPOP_NONCE_REQUIRED
            extra = (("DPoP-Nonce", "".join(c for c in error.nonce if "!" <= c <= "~")),)
        else:
            message = INVALID_DPOP_PROOF
    elif isinstance(error, ForbiddenError):
        message = _FORBIDDEN_MESSAGES.get(code, FORBIDDEN)
        challenge = None
        if code == "insufficient_scope":
            scoped = [("error", "insufficient_scope"), ("error_description", description)]
            scope = _scope_tokens(error.required)
            if scope:
                scoped.append(("scope", scope))
            params = tuple(scoped)
            challenge = _challenge(realm, params)
    elif isinstance(error, AuthError):
        # InvalidTokenError, and any other AuthError: the token is not accepted.
        message = TOKEN_EXPIRED if code == "token_expired" else INVALID_TOKEN
        params = (("error", "invalid_token"), ("error_description", description))
        challenge = _challenge(realm, params)
    else:
        message, challenge = UNAVAILABLE, None
        extra = (("Retry-After", str(max(0, int(retry_after)))),)
    if dpop is not None and dpop.enabled and status != 503:
        challenge = _with_dpop(error, realm, challenge, params, dpop)
    headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
    if challenge is not None:
        headers.append(("WWW-Authenticate", challenge))
    headers.extend(extra)
    headers.append(("Cache-Control", "no-store"))
    body = {"error": message, "code": code} if include_code else {"error": message}
    return Refusal(status=status, headers=tuple(headers), body=body, code=code)
