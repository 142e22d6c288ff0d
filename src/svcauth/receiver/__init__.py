"""Receiver side: verify bearer tokens and decide who may call.

``KeySet`` (``StaticKeySet``, ``RemoteKeySet``) → ``Verifier`` (+ ``VerifiedTokenCache``)
→ ``Claims`` → ``ServicePolicy`` / ``UserPolicy`` / ``OnBehalfOfPolicy`` → ``ServiceIdentity`` /
``UserIdentity`` / ``OnBehalfOfIdentity``.
``IntrospectionVerifier`` asks the provider instead (RFC 7662). ``Guard`` ties a verifier
and a policy to the ``Authorization`` header for the framework integrations.

Re-exports only; keep ``__all__`` sorted. The bearer header, RFC 6750 and Guard names come
from the edge modules (``_bearer``, ``_rfc6750``, ``_guard``).
"""

from ._bearer import parse_authorization
from ._cache import VerifiedTokenCache
from ._claims import Claims
from ._dpop import DPoPNonces, DPoPSettings, ReplayCache
from ._guard import AuthDecision, Guard
from ._introspection import IntrospectionVerifier
from ._keyset import KeySet, StaticKeySet
from ._on_behalf_of import OnBehalfOfIdentity, OnBehalfOfPolicy
from ._policy import (
    ServiceIdentity,
    ServicePolicy,
    UserIdentity,
    UserPolicy,
    keycloak_service_account,
    rfc9068_service_account,
)
from ._remote_keyset import RemoteKeySet
from ._request import RequestInfo, request_from_scope
from ._rfc6750 import Refusal, refusal_for
from ._verifier import Verifier

__all__ = [
    "AuthDecision",
    "Claims",
    "DPoPNonces",
    "DPoPSettings",
    "Guard",
    "IntrospectionVerifier",
    "KeySet",
    "OnBehalfOfIdentity",
    "OnBehalfOfPolicy",
    "Refusal",
    "RemoteKeySet",
    "ReplayCache",
    "RequestInfo",
    "ServiceIdentity",
    "ServicePolicy",
    "StaticKeySet",
    "UserIdentity",
    "UserPolicy",
    "VerifiedTokenCache",
    "Verifier",
    "keycloak_service_account",
    "parse_authorization",
    "refusal_for",
    "request_from_scope",
    "rfc9068_service_account",
]
