"""Which of a verified caller's claims notification-service records with each notification.

"Who called" as the receiver accepted it: the identity claims (``azp``, ``client_id``,
``aud``, ``preferred_username``, ``resource_access``, ``realm_access.roles``, ``scope``) and
the token's ``iat``/``exp``. Never the token, its header or its signature, and no other claim
(``jti``, ``sub``, ``clientAddress``... stay out). Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RECORDED_CLAIMS", "recorded_claims"]

RECORDED_CLAIMS = ("azp", "client_id", "aud", "preferred_username", "resource_access",
                   "realm_access", "scope", "iat", "exp")
"""The claim names kept, in display order (``realm_access`` keeps only its ``roles``)."""


def recorded_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded subset of verified ``claims`` (absent claims are left out)."""
    out: dict[str, Any] = {}
    for name in RECORDED_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if name == "realm_access":
            roles = value.get("roles") if isinstance(value, Mapping) else None
            if not isinstance(roles, list):
                continue
            value = {"roles": [r for r in roles if type(r) is str]}
        out[name] = value
    return out
