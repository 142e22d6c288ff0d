"""Receiver side: verify bearer tokens and decide who may call.

``KeySet`` (``StaticKeySet``, ``RemoteKeySet``) → ``Verifier`` (+ ``VerifiedTokenCache``)
→ ``Claims`` → ``ServicePolicy`` / ``UserPolicy`` → ``ServiceIdentity`` / ``UserIdentity``.
``IntrospectionVerifier`` asks the provider instead (RFC 7662).
"""

from ._cache import VerifiedTokenCache
from ._claims import Claims
from ._keyset import KeySet, StaticKeySet
from ._remote_keyset import RemoteKeySet
from ._verifier import Verifier

__all__ = [
    "Claims",
    "KeySet",
    "RemoteKeySet",
    "StaticKeySet",
    "VerifiedTokenCache",
    "Verifier",
]
