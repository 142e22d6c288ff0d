"""Keycloak's client-role protocol mapper (``oidc-usermodel-client-role-mapper``) as the
development identity provider models it: the user's effective roles of one client, as a
list under a top-level claim of the access token.

What is modelled: ``usermodel.clientRoleMapping.clientId``, ``claim.name`` (without dots:
Keycloak nests on dots, this model does not and refuses such a name),
``usermodel.clientRoleMapping.rolePrefix`` and ``access.token.claim`` (on when absent).
The claim is a list (``multivalued`` true), left out when the user holds none of the roles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigurationError

CLIENT_ROLE_MAPPER = "oidc-usermodel-client-role-mapper"

RoleClaim = tuple[str, str, str]
"""``(claim name, client id, role prefix)``."""


def role_claims(rep: Mapping[str, Any]) -> tuple[RoleClaim, ...]:
    """The client-role mappers of a client representation that write access-token claims."""
    out: list[RoleClaim] = []
    for mapper in rep.get("protocolMappers") or ():
        if not isinstance(mapper, dict) or mapper.get("protocolMapper") != CLIENT_ROLE_MAPPER:
            continue
        config = {str(k): str(v) for k, v in (mapper.get("config") or {}).items()}
        if config.get("access.token.claim", "true").lower() != "true":
            continue
        claim = config.get("claim.name", "")
        client = config.get("usermodel.clientRoleMapping.clientId", "")
        if not claim or "." in claim or not client:
            raise ConfigurationError(
                f"client {rep.get('clientId')!r}: mapper {mapper.get('name')!r}: expected a "
                f"claim.name without dots and a usermodel.clientRoleMapping.clientId, found "
                f"{claim!r} and {client!r}", code="config_invalid")
        out.append((claim, client, config.get("usermodel.clientRoleMapping.rolePrefix", "")))
    return tuple(out)


def role_claim_values(mappers: Sequence[RoleClaim],
                      client_roles: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The claims ``mappers`` add, given the user's effective client roles by client id."""
    out: dict[str, list[str]] = {}
    for claim, client, prefix in mappers:
        roles = [prefix + r for r in client_roles.get(client, ())]
        if roles:
            out.setdefault(claim, []).extend(r for r in roles if r not in out.get(claim, []))
    return out
