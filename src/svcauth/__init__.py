"""svcauth: service-to-service authentication with OAuth 2.0 Client Credentials.

The caller side (:mod:`svcauth.caller`) obtains, caches and renews access tokens; the
receiver side (:mod:`svcauth.receiver`) verifies them and decides who may call.
"""

from ._errors import (
    AuthError,
    ConfigurationError,
    DiscoveryError,
    ForbiddenError,
    InvalidDPoPProofError,
    InvalidRequestError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingTokenError,
    SvcAuthError,
    TokenEndpointError,
    TokenError,
    TokenTransportError,
    UseDPoPNonceError,
)

__version__ = "0.1.0"

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
]
