"""The caller side: obtain, cache and renew client-credentials access tokens.

::

    from svcauth.caller import from_env
    tokens = from_env()            # KEYCLOAK_* / OIDC_ISSUER, discovery done at once
    headers = {"Authorization": f"Bearer {tokens.token()}"}   # or: await tokens.atoken()
    tokens.authorize("GET", url).apply(headers)   # Bearer or DPoP (+ proof): Credential

Pieces: :class:`ClientConfig` (what to ask), :class:`ClientCredentialsSource` (the raw
fetch with retries), :class:`CachingTokenSource` (cache, single flight, refresh-ahead),
:class:`ClientSecretBasic` / :class:`ClientSecretPost` / :class:`PrivateKeyJWT` (client
authentication), :class:`TokenExchanger` (RFC 8693 token exchange on a user's behalf,
cached per subject token and audience). Pure helpers: :func:`build_token_request`,
:func:`build_exchange_request`, :func:`parse_token_response`, :func:`unauthorized_verdict`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._cache import CachingTokenSource
from ._challenge import retry_unauthorized, should_retry_unauthorized
from ._client_auth import ClientAuth, ClientSecretBasic, ClientSecretPost, PrivateKeyJWT
from ._config import ClientConfig
from ._credential import AuthorizingSource, Credential
from ._dpop import DPoPKey
from ._exchange import (
    ACCESS_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    build_exchange_request,
    subject_expiry,
)
from ._exchanger import TokenExchanger
from ._policy import Backoff, RefreshPolicy
from ._secrets import Secret, SecretFile
from ._source import ClientCredentialsSource, FetchingSource, TokenSource
from ._token import Token, redact
from ._token_cache import TokenCache
from ._token_endpoint import TokenRequest, build_token_request, parse_token_response
from ._unauthorized import UnauthorizedVerdict, unauthorized_verdict

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "TOKEN_EXCHANGE_GRANT",
    "AuthorizingSource",
    "Backoff",
    "CachingTokenSource",
    "ClientAuth",
    "ClientConfig",
    "ClientCredentialsSource",
    "ClientSecretBasic",
    "ClientSecretPost",
    "Credential",
    "DPoPKey",
    "FetchingSource",
    "PrivateKeyJWT",
    "RefreshPolicy",
    "Secret",
    "SecretFile",
    "Token",
    "TokenCache",
    "TokenExchanger",
    "TokenRequest",
    "TokenSource",
    "UnauthorizedVerdict",
    "build_exchange_request",
    "build_token_request",
    "from_env",
    "parse_token_response",
    "redact",
    "retry_unauthorized",
    "should_retry_unauthorized",
    "subject_expiry",
    "unauthorized_verdict",
]


def from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> CachingTokenSource:
    """A ready :class:`CachingTokenSource` from the environment (see ClientConfig.from_env).

    Discovery happens here, so an unreachable provider fails at start with a
    :class:`~svcauth.DiscoveryError` naming the URL.
    """
    source = ClientCredentialsSource(ClientConfig.from_env(environ, **overrides))
    source.resolve()
    return CachingTokenSource(source)
