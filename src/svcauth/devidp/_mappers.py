"""Protocol mappers with Keycloak's semantics: claims from a realm, a user and a request.

Pure code, table-driven by mapper type (:data:`MAPPERS`). Each mapper reads its config the
way Keycloak's mapper class does:

- ``access.token.claim``, ``id.token.claim``, ``lightweight.claim`` absent count as off
  (Keycloak 26.7.3 adds no claim for a mapper without ``access.token.claim``, checked in
  tests/conformance); ``userinfo.token.claim``
  absent follows ``id.token.claim``; ``introspection.token.claim`` absent follows the access
  token. Every switch is on only for the exact string ``true``.
- ``claim.name`` is a dotted path (``a.b`` nests, ``\\.`` is a literal dot); role mappers
  replace ``${client_id}`` in it (not in the role prefix). ``jsonType.label`` converts
  (``String``, ``long``, ``int``, ``boolean``, ``JSON``); ``multivalued`` keeps lists (else
  the first value) and merges into a list already at the path.
- Hardcoded roles join the token's roles before the role and audience-resolve mappers run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..realm import Client, ProtocolMapper, Realm, RoleRef, User

CLIENT_ID_PLACEHOLDER = "${client_id}"
"""Replaced by each client's id in role mappers' claim names and prefixes."""
KINDS = {"access": "access.token.claim", "id": "id.token.claim",
         "userinfo": "userinfo.token.claim", "introspection": "introspection.token.claim"}
"""Token kind -> the config switch that puts a mapper's claim in it."""


@dataclass
class MapperContext:
    """What the mappers of one token see (mutable: roles grow by hardcoded roles)."""

    realm: Realm
    """The realm."""
    client: Client
    """The requesting client (``azp``)."""
    user: User
    """The subject."""
    roles: set[RoleRef]
    """The roles that reach the token (scope-filtered, composites expanded)."""
    notes: Mapping[str, str] = field(default_factory=dict)
    """User-session notes of service accounts (``clientHost``, ``clientAddress``, ``client_id``,
    and ``clientId``, the name Keycloak's pre-25 exports' mappers read)."""
    claims: dict[str, Any] = field(default_factory=dict)
    """Claims written so far."""
    audiences: list[str] = field(default_factory=list)
    """``aud`` values added, in order."""


_NO_USERINFO_TYPES = frozenset({"oidc-acr-mapper"})
"""Mapper types Keycloak never runs for ``/userinfo`` (``AcrProtocolMapper`` is no
``UserInfoTokenMapper``), whatever their config says (seen on 26.7.3: no ``acr`` there)."""


def wants(mapper: ProtocolMapper, kind: str, *, lightweight: bool = False) -> bool:
    """Whether ``mapper`` writes into a token of ``kind`` (``access``, ``id``, ...)."""
    config = mapper.config
    access = config.get("access.token.claim") == "true"
    if kind == "access":
        return access and (not lightweight or config.get("lightweight.claim") == "true")
    if kind == "id":
        return config.get("id.token.claim") == "true"
    if kind == "userinfo":
        if mapper.mapper_type in _NO_USERINFO_TYPES:
            return False
        value = config.get("userinfo.token.claim")
        return (config.get("id.token.claim") == "true") if value is None else value == "true"
    value = config.get("introspection.token.claim")
    return access if value is None else value == "true"


def split_claim_path(path: str) -> list[str]:
    """``a.b\\.c`` -> ``["a", "b.c"]`` (Keycloak's ``splitClaimPath``)."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            current.append(path[i + 1])
            i += 2
            continue
        if ch == "." and current:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if current:
        parts.append("".join(current))
    return parts


def _convert(json_type: str | None, value: Any) -> Any:
    if json_type in (None, ""):
        return value
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    try:
        if json_type == "String":
            return text
        if json_type in ("long", "int"):
            return int(text)
        if json_type == "boolean":
            return value if isinstance(value, bool) else text.lower() == "true"
        if json_type == "JSON":
            return json.loads(text) if isinstance(value, str) else value
    except ValueError:
        return value
    return value


def map_value(config: Mapping[str, str], value: Any) -> Any:
    """``OIDCAttributeMapperHelper.mapAttributeValue``: lists and ``jsonType.label``."""
    json_type = config.get("jsonType.label")
    if value is None:
        return None
    if isinstance(value, list | tuple | set):
        items = list(value)
        if not items:
            return None
        if config.get("multivalued") == "true":
            return [_convert(json_type, v) for v in items]
        value = items[0]
    return _convert(json_type, value)


def put_claim(claims: dict[str, Any], path: list[str], value: Any, *, multivalued: bool) -> None:
    """Write ``value`` at ``path`` (nested objects created; a list merges when multivalued)."""
    target = claims
    for part in path[:-1]:
        nested = target.setdefault(part, {})
        if not isinstance(nested, dict):
            return
        target = nested
    last = path[-1]
    if multivalued and last in target:
        old = target[last]
        merged = list(old) if isinstance(old, list) else [old]
        merged += [v for v in (value if isinstance(value, list) else [value]) if v not in merged]
        target[last] = merged
    else:
        target[last] = value


def map_claim(ctx: MapperContext, mapper: ProtocolMapper, value: Any,
              client_id: str | None = None, *, force_multivalued: bool = False) -> None:
    """Convert ``value`` and write it under the mapper's ``claim.name``."""
    config = dict(mapper.config)
    if force_multivalued:
        config["multivalued"] = "true"
    mapped = map_value(config, value)
    name = config.get("claim.name")
    if mapped is None or not name:
        return
    if client_id is not None:
        name = name.replace(CLIENT_ID_PLACEHOLDER, client_id)
    path = split_claim_path(name)
    if path:
        put_claim(ctx.claims, path, mapped,
                  multivalued=force_multivalued or config.get("multivalued") == "true")


def _user_property(user: User, name: str) -> str | None:
    values: dict[str, str | None] = {
        "username": user.username, "email": user.email, "firstName": user.first_name,
        "lastName": user.last_name, "id": user.id,
        "emailVerified": "true" if user.email_verified else "false",
        "enabled": "true" if user.enabled else "false"}
    return values.get(name)


def _attribute(ctx: MapperContext, m: ProtocolMapper) -> None:
    values = ctx.realm.user_attribute(ctx.user, m.config.get("user.attribute", ""),
                                      aggregate=m.config.get("aggregate.attrs") == "true")
    map_claim(ctx, m, values)


def _property(ctx: MapperContext, m: ProtocolMapper) -> None:
    map_claim(ctx, m, _user_property(ctx.user, m.config.get("user.attribute", "")))


def _prefixed(roles: list[str], prefix: str | None) -> list[str]:
    return [f"{prefix}{r}" for r in roles] if prefix else roles


def _role_claim(ctx: MapperContext, m: ProtocolMapper, roles: list[str],
                client_id: str | None) -> None:
    value: Any = roles if m.config.get("multivalued") == "true" else (
        "[" + ", ".join(roles) + "]" if roles else None)  # Java's Set.toString()
    map_claim(ctx, m, value, client_id, force_multivalued=isinstance(value, list))


def _realm_roles(ctx: MapperContext, m: ProtocolMapper) -> None:
    roles = sorted(r for c, r in ctx.roles if c is None)
    if roles:
        _role_claim(ctx, m, _prefixed(roles, m.config.get("usermodel.realmRoleMapping.rolePrefix")),
                    None)


def _client_roles(ctx: MapperContext, m: ProtocolMapper) -> None:
    only = m.config.get("usermodel.clientRoleMapping.clientId") or None
    _, by_client = ctx.realm.split_roles(ctx.roles)
    for client_id, roles in by_client.items():
        if only is not None and client_id != only:
            continue
        # ${client_id} is replaced in the claim name only: the prefix stays as written.
        prefix = m.config.get("usermodel.clientRoleMapping.rolePrefix")
        _role_claim(ctx, m, _prefixed(roles, prefix), client_id)


def _groups(ctx: MapperContext, m: ProtocolMapper) -> None:
    full = m.config.get("full.path") == "true"
    names = [p if full else p.rsplit("/", 1)[-1] for p in ctx.user.groups
             if p in ctx.realm.groups]
    map_claim(ctx, m, names, force_multivalued=True)


def _hardcoded_claim(ctx: MapperContext, m: ProtocolMapper) -> None:
    map_claim(ctx, m, m.config.get("claim.value"))


def add_hardcoded_role(ctx: MapperContext, m: ProtocolMapper) -> None:
    """``oidc-hardcoded-role-mapper``: ``role`` is ``name`` or ``client.name`` (last dot)."""
    role = m.config.get("role")
    if not role:
        return
    owner, dot, name = role.rpartition(".")
    ctx.roles.add((owner if dot else None, name))


def _audience(ctx: MapperContext, m: ProtocolMapper) -> None:
    value = m.config.get("included.client.audience") or m.config.get("included.custom.audience")
    if value and value not in ctx.audiences:
        ctx.audiences.append(value)


def _audience_resolve(ctx: MapperContext, m: ProtocolMapper) -> None:
    _, by_client = ctx.realm.split_roles(ctx.roles)
    for client_id in by_client:
        if client_id != ctx.client.client_id and client_id not in ctx.audiences:
            ctx.audiences.append(client_id)


def _full_name(ctx: MapperContext, m: ProtocolMapper) -> None:
    parts = [p for p in (ctx.user.first_name, ctx.user.last_name) if p]
    if parts:
        ctx.claims["name"] = " ".join(parts)


def _sub(ctx: MapperContext, m: ProtocolMapper) -> None:
    ctx.claims["sub"] = ctx.user.id


def _note(ctx: MapperContext, m: ProtocolMapper) -> None:
    map_claim(ctx, m, ctx.notes.get(m.config.get("user.session.note", "")))


def _acr(ctx: MapperContext, m: ProtocolMapper) -> None:
    ctx.claims["acr"] = "1"


def web_origins(client: Client) -> list[str]:
    """``webOrigins`` with ``+`` replaced by the origins of the redirect URIs."""
    out: list[str] = []
    for origin in client.web_origins:
        if origin == "+":
            for uri in client.redirect_uris:
                parts = urlsplit(uri)
                if parts.scheme and parts.netloc and "*" not in parts.netloc:
                    candidate = f"{parts.scheme}://{parts.netloc}"
                    if candidate not in out:
                        out.append(candidate)
        elif origin not in out:
            out.append(origin)
    return out


def _allowed_origins(ctx: MapperContext, m: ProtocolMapper) -> None:
    origins = web_origins(ctx.client)
    if origins:
        ctx.claims["allowed-origins"] = origins


def _address(ctx: MapperContext, m: ProtocolMapper) -> None:
    address: dict[str, str] = {}
    for claim in ("formatted", "street_address", "locality", "region", "postal_code", "country"):
        attribute = m.config.get(f"user.attribute.{claim}",
                                 "street" if claim == "street_address" else claim)
        values = ctx.realm.user_attribute(ctx.user, attribute)
        if values:
            address[claim] = values[0]
    if address:  # Keycloak leaves an empty address out
        ctx.claims["address"] = address


def _organization(ctx: MapperContext, m: ProtocolMapper) -> None:
    return  # organizations are off unless the realm turns them on (then: a warning)


Handler = Callable[[MapperContext, ProtocolMapper], None]
MAPPERS: Mapping[str, Handler] = {
    "oidc-usermodel-attribute-mapper": _attribute,
    "oidc-usermodel-property-mapper": _property,
    "oidc-usermodel-realm-role-mapper": _realm_roles,
    "oidc-usermodel-client-role-mapper": _client_roles,
    "oidc-group-membership-mapper": _groups,
    "oidc-hardcoded-claim-mapper": _hardcoded_claim,
    "oidc-hardcoded-role-mapper": add_hardcoded_role,
    "oidc-audience-mapper": _audience,
    "oidc-audience-resolve-mapper": _audience_resolve,
    "oidc-full-name-mapper": _full_name,
    "oidc-sub-mapper": _sub,
    "oidc-usersessionmodel-note-mapper": _note,
    "oidc-acr-mapper": _acr,
    "oidc-allowed-origins-mapper": _allowed_origins,
    "oidc-address-mapper": _address,
    "oidc-organization-membership-mapper": _organization,
}
"""Mapper types the dev IdP emulates, each with Keycloak's behaviour."""
ROLE_CHANGING = frozenset({"oidc-hardcoded-role-mapper"})
"""Mappers that change the token's roles: run first, with no claim switch."""
FIRST = ("oidc-audience-resolve-mapper",)
"""Mappers run before the rest (the resolved audiences lead ``aud``, as in the tests of old;
hardcoded roles are already in by then)."""


def apply_mappers(ctx: MapperContext, mappers: list[ProtocolMapper], kind: str, *,
                  lightweight: bool = False) -> None:
    """Run ``mappers`` for a token of ``kind`` into ``ctx.claims`` and ``ctx.audiences``."""
    known = [m for m in mappers if m.mapper_type in MAPPERS]
    for m in known:
        if m.mapper_type in ROLE_CHANGING:
            add_hardcoded_role(ctx, m)
    ordered = ([m for m in known if m.mapper_type in FIRST]
               + [m for m in known if m.mapper_type not in FIRST])
    for m in ordered:
        if m.mapper_type in ROLE_CHANGING:
            continue
        if wants(m, kind, lightweight=lightweight):
            MAPPERS[m.mapper_type](ctx, m)
