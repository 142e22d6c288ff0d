"""A broker's refusal turned into svcauth's error codes, naming what was missing (pure).

RabbitMQ says little: a refused login is ``403 ACCESS_REFUSED - Login was refused using
authentication mechanism PLAIN``, a refused operation ``403 ACCESS_REFUSED - access to
exchange 'orders' in vhost '/' refused for user 'order-events-worker'``, a refused virtual
host ``530 NOT_ALLOWED - access to vhost '/' refused``. The caller holds the token it sent,
so the reason is read from the token's own claims, as the OAuth 2.0 backend reads them
(3.10): ``aud`` must hold the resource server id, and the broker scopes are the words of
``scope`` plus the list under ``additional_scopes_key`` that start with
``<resource_server_id>.``. The claims are decoded without verification: only to explain a
refusal, never to grant anything.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ForbiddenError, InvalidTokenError, SvcAuthError

ACCESS_REFUSED = 403
NOT_ALLOWED = 530

_RESOURCE = re.compile(r"access to (exchange|queue|topic) '([^']*)' in vhost '([^']*)'")
_EXPIRED = "expired"

OPERATION_PERMISSION = {"publish": "write", "consume": "read", "get": "read",
                        "declare": "configure", "bind": "write", "delete": "configure"}
"""The RabbitMQ permission each operation needs on the resource the broker names."""


@dataclass(frozen=True, slots=True)
class BrokerAudience:
    """How the broker reads tokens (its ``auth_oauth2`` settings)."""

    resource_server_id: str = "rabbitmq"
    """``auth_oauth2.resource_server_id``: required in ``aud``, prefix of every scope."""
    scopes_claim: str | None = "rabbitmq_scopes"
    """``auth_oauth2.additional_scopes_key``: a claim whose list adds scopes (None: none)."""


def unverified_claims(access_token: str) -> dict[str, Any]:
    """The payload of a compact JWS, not verified (for explaining refusals only); ``{}``
    when it is not one."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return {}
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def broker_scopes(claims: Mapping[str, Any], audience: BrokerAudience) -> list[str]:
    """The scopes the broker honours in these claims, prefix included, in claim order."""
    words = _words(claims.get("scope"))
    if audience.scopes_claim:
        words = _words(claims.get(audience.scopes_claim)) + words
    prefix = audience.resource_server_id + "."
    return [w for w in dict.fromkeys(words) if w.startswith(prefix)]


def _who(claims: Mapping[str, Any]) -> str:
    client = claims.get("client_id") or claims.get("azp")
    return f"client {client!r}" if isinstance(client, str) else "the client"


def login_refusal(claims: Mapping[str, Any], audience: BrokerAudience, now: float,
                  reply_code: int = ACCESS_REFUSED) -> SvcAuthError:
    """Why the broker refused a connection opened with a token holding ``claims``.

    ``now`` is wall-clock time (``exp`` is). The checks follow the broker's own order:
    expiry, audience, then scopes.
    """
    who, rs = _who(claims), audience.resource_server_id
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp <= now:
        return InvalidTokenError(
            f"the broker refused the token of {who}: expected a token valid now, found one "
            f"expired {now - exp:.0f} s ago", code="token_expired")
    aud = _words(claims.get("aud"))
    if rs not in aud:
        return InvalidTokenError(
            f"the broker refused the token of {who}: expected {rs!r} (its resource_server_id) "
            f"in aud, found {aud}; give the client a role of the {rs!r} client or an audience "
            f"mapper", code="audience_mismatch")
    scopes = broker_scopes(claims, audience)
    if not scopes or reply_code == NOT_ALLOWED:
        return ForbiddenError(
            f"the broker refused {who}: expected at least one {rs}.<permission>:<vhost>/<name> "
            f"scope for the virtual host, found {scopes}", code="insufficient_scope",
            required=(f"{rs}.read:*/*",) if not scopes else ())
    return InvalidTokenError(
        f"the broker refused the token of {who} although it holds aud {rs!r} and scopes "
        f"{scopes}: the broker could not verify it (signing key, issuer or algorithm; check "
        f"its jwks_url)", code="invalid_token")


def operation_refusal(reply_code: int, reply_text: str, claims: Mapping[str, Any],
                      audience: BrokerAudience, operation: str, now: float) -> SvcAuthError | None:
    """Why the broker closed a channel on ``operation`` (``publish``, ``consume``, ``get``,
    ``declare``...); None when the close was no refusal."""
    if reply_code != ACCESS_REFUSED:
        return None
    who, rs = _who(claims), audience.resource_server_id
    exp = claims.get("exp")
    if _EXPIRED in reply_text.lower() or (isinstance(exp, int | float) and exp <= now):
        return InvalidTokenError(
            f"the broker refused {operation} for {who}: its token expired on the open "
            f"connection (expected update-secret with a fresh one before exp)",
            code="token_expired")
    found = _RESOURCE.search(reply_text)
    permission = OPERATION_PERMISSION.get(operation, operation)
    if found is None:
        return ForbiddenError(f"the broker refused {operation} for {who}: {reply_text[:200]}",
                              code="insufficient_scope")
    kind, name, vhost = found.groups()
    required = f"{rs}.{permission}:*/{name}"
    return ForbiddenError(
        f"the broker refused {operation} on {kind} {name!r} in vhost {vhost!r} for {who}: "
        f"expected a scope granting {permission} on it, such as {required}, found "
        f"{broker_scopes(claims, audience)}", code="insufficient_scope", required=(required,))

