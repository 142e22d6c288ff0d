"""One error tree for all of svcauth, each error with a stable ``code``.

::

    SvcAuthError                     code
    ├── ConfigurationError           config_invalid, config_missing, keycloak_unavailable,
    │                                keycloak_start_failed, keycloak_port_in_use
    ├── DiscoveryError               discovery_failed
    ├── TokenError                   (caller side: no token could be obtained)
    │   ├── TokenEndpointError       the RFC 6749 §5.2 ``error`` (invalid_client,
    │   │                            unauthorized_client, ...) or http_<status> when the body
    │   │                            carried none; token_response_invalid for a broken 200
    │   └── TokenTransportError      token_endpoint_unreachable
    ├── KeySetUnavailableError       jwks_unavailable, introspection_unavailable   -> 503
    └── AuthError                    (receiver side: a request is refused)
        ├── MissingTokenError        token_missing, scheme_unsupported,
        │                            dpop_required (Bearer where DPoP is required)
        │                                                                -> 401, no error
        ├── InvalidRequestError      authorization_malformed, authorization_repeated,
        │                            credentials_multiple                -> 400 invalid_request
        ├── InvalidTokenError        token_malformed, token_too_large, alg_not_allowed,
        │   │                        header_invalid, crit_unsupported, key_not_found,
        │   │                        signature_invalid, token_expired, token_not_yet_valid,
        │   │                        iat_in_future, claim_invalid, issuer_mismatch,
        │   │                        audience_mismatch, token_type_invalid, token_inactive,
        │   │                        token_unprocessable, dpop_bound_token (a DPoP-bound
        │   │                        token sent as Bearer), dpop_binding_missing (an unbound
        │   │                        token sent as DPoP)                 -> 401 invalid_token
        │   └── InvalidDPoPProofError  dpop_proof_missing, dpop_proof_repeated,
        │       │                    dpop_proof_malformed, dpop_claims_invalid, dpop_typ_invalid,
        │       │                    dpop_alg_not_allowed, dpop_jwk_missing, dpop_jwk_invalid,
        │       │                    dpop_jwk_private,
        │       │                    dpop_signature_invalid, dpop_htm_mismatch,
        │       │                    dpop_htu_mismatch, dpop_iat_stale, dpop_iat_future,
        │       │                    dpop_replayed, dpop_ath_mismatch, dpop_jkt_mismatch
        │       │                                                    -> 401 invalid_dpop_proof
        │       └── UseDPoPNonceError  use_dpop_nonce                -> 401 use_dpop_nonce
        └── ForbiddenError           not_service_account, not_user_token, unauthorized_service,
                                     unauthorized_client, insufficient_scope,
                                     method_not_configured (svcauth.grpc)   -> 403

Messages say what was expected and what was found. They never contain a token, a secret
or a client assertion; of the claims they may name only the issuer and the caller's client
id. What a refused caller sees is not the message but a fixed text per code
(``svcauth.receiver.refusal_for``).
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigurationError",
    "DiscoveryError",
    "ForbiddenError",
    "InvalidDPoPProofError",
    "InvalidRequestError",
    "InvalidTokenError",
    "KeySetUnavailableError",
    "MissingTokenError",
    "SvcAuthError",
    "TokenEndpointError",
    "TokenError",
    "TokenTransportError",
    "UseDPoPNonceError",
    "http_status",
]

# RFC 6749 §5.2 errors that no retry can fix: the request itself is wrong.
PERMANENT_TOKEN_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_grant",
     "unsupported_grant_type", "invalid_request", "invalid_target"}
)

BODY_CAP = 1024


class SvcAuthError(Exception):
    """Base of every error svcauth raises."""

    code: str = "svcauth_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human-readable message (never holds a secret or a token)."""
        return str(self.args[0]) if self.args else ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class ConfigurationError(SvcAuthError):
    """Configuration is missing or contradictory; raised at construction, never per request."""

    code = "config_invalid"


class DiscoveryError(SvcAuthError):
    """OpenID Connect discovery failed or returned a document that does not fit."""

    code = "discovery_failed"


class TokenError(SvcAuthError):
    """Caller side: an access token could not be obtained."""

    code = "token_error"


class TokenEndpointError(TokenError):
    """The token endpoint answered with an error (RFC 6749 §5.2).

    ``code`` is the endpoint's ``error`` value, or ``http_<status>`` when it sent none.
    ``body`` is the response body cut to 1 KiB, for diagnosis.
    """

    def __init__(
        self,
        *,
        status: int,
        error: str | None,
        error_description: str | None = None,
        body: str = "",
        retry_after: float | None = None,
        error_uri: str | None = None,
    ) -> None:
        self.status = status
        self.error_uri = error_uri
        self.error = error
        self.error_description = error_description
        self.body = body[:BODY_CAP]
        self.retry_after = retry_after
        detail = f": {error_description}" if error_description else ""
        super().__init__(
            f"token endpoint answered HTTP {status} {error or '(no error field)'}{detail}",
            code=error or f"http_{status}",
        )

    @property
    def permanent(self) -> bool:
        """True when retrying cannot help (a 4xx with an RFC 6749 error other than 429)."""
        if self.status == 429 or self.status >= 500:
            return False
        return self.error in PERMANENT_TOKEN_ERRORS or 400 <= self.status < 500


class TokenTransportError(TokenError):
    """The token endpoint could not be reached (connection refused, timeout, deadline)."""

    code = "token_endpoint_unreachable"


class KeySetUnavailableError(SvcAuthError):
    """No usable signing key could be had: the JWKS endpoint fails and nothing usable is cached."""

    code = "jwks_unavailable"


class AuthError(SvcAuthError):
    """Receiver side: the request is refused. ``status`` is the HTTP status to answer."""

    code = "auth_error"
    status: int = 401


class MissingTokenError(AuthError):
    """No bearer token came with the request (401, ``WWW-Authenticate: Bearer realm=...``)."""

    code = "token_missing"
    status = 401


class InvalidRequestError(AuthError):
    """The request carried credentials in a form RFC 6750 forbids (400 ``invalid_request``)."""

    code = "invalid_request"
    status = 400


class InvalidTokenError(AuthError):
    """The token is malformed, badly signed, expired or not meant for this receiver (401)."""

    code = "invalid_token"
    status = 401


class InvalidDPoPProofError(InvalidTokenError):
    """The request's DPoP proof (RFC 9449) is missing, malformed or does not fit the request
    or the token (401 ``WWW-Authenticate: DPoP error="invalid_dpop_proof"``)."""

    code = "invalid_dpop_proof"


class UseDPoPNonceError(InvalidDPoPProofError):
    """The receiver wants a server nonce in the proof (RFC 9449 §9): 401
    ``error="use_dpop_nonce"`` with ``DPoP-Nonce: <nonce>``; the caller retries once."""

    code = "use_dpop_nonce"

    def __init__(self, message: str, *, nonce: str) -> None:
        super().__init__(message)
        self.nonce = nonce
        """The nonce to put in the next proof (sent as the ``DPoP-Nonce`` header)."""


class ForbiddenError(AuthError):
    """The token is valid but its holder may not do this (403).

    ``required`` names the missing roles or scopes for ``insufficient_scope``.
    """

    code = "forbidden"
    status = 403

    def __init__(
        self, message: str, *, code: str | None = None, required: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, code=code)
        self.required = required


def http_status(error: SvcAuthError) -> int:
    """The HTTP status a receiver answers ``error`` with, decided here only: an
    ``AuthError``'s own ``status`` (400, 401, 403), and 503 for anything else (the key set
    or the provider cannot be had: the receiver's fault, the caller should retry)."""
    return error.status if isinstance(error, AuthError) else 503
