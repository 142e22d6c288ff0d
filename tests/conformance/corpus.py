"""The conformance corpus: realm files, the token requests each allows, and the comparison.

Pure helpers shared by the Keycloak-marked corpus test and the unit tests: which requests a
realm allows (every client-credentials request of a confidential client with a service
account, every password request of a direct-access client for each user with a password,
each with no scope, ``openid``, each optional scope, a default scope asked for by name and an
unknown scope), and the normalisation that leaves out what differs by nature.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svcauth.realm import Realm

HERE = Path(__file__).resolve().parent
REALM_DIR = HERE / "realms"
REALM_FILES = sorted([*REALM_DIR.glob("*.json"), *(REALM_DIR / "third_party").glob("*.json")])
"""The valid realm files of the corpus (ours, then those written by other projects)."""
BROKEN_FILES = sorted((REALM_DIR / "broken").glob("*.json"))
"""Realm files Keycloak's import refuses."""

BY_NATURE = frozenset({"exp", "iat", "jti", "sub", "sid", "session_state", "at_hash", "iss",
                       "auth_time", "nonce"})
"""Claims whose values differ between two servers by nature (their presence and JSON type are
still compared): times, random ids, user UUIDs generated at import, the issuer's host."""
RESPONSE_BY_NATURE = frozenset({"access_token", "refresh_token", "id_token", "session_state",
                                "expires_in", "refresh_expires_in", "scope"})
"""Token-response fields compared otherwise (tokens by their claims, scope as a set, the two
``*_expires_in`` within one second: a second boundary may pass while a server answers)."""


@dataclass(frozen=True)
class Request:
    """One token request to send to both servers."""

    realm: str
    """Realm name."""
    client_id: str
    """The client."""
    grant: str
    """``client_credentials`` or ``password``."""
    scope: str
    """The ``scope`` parameter ("" for none)."""
    secret: str | None = None
    """The client secret (None for a public client)."""
    username: str | None = None
    """Password grant: the user."""
    password: str | None = None
    """Password grant: the password."""

    @property
    def id(self) -> str:
        """A readable test id."""
        who = f"{self.username}@" if self.username else ""
        return f"{self.realm}:{who}{self.client_id}:{self.grant}:{self.scope or '-'}"

    def form(self) -> dict[str, str]:
        """The form body (client credentials in it: Keycloak accepts both ways)."""
        data = {"grant_type": self.grant, "client_id": self.client_id}
        if self.secret is not None:
            data["client_secret"] = self.secret
        if self.scope:
            data["scope"] = self.scope
        if self.username is not None:
            data.update(username=self.username, password=self.password or "")
        return data


def _scopes(realm: Realm, client_id: str) -> list[str]:
    client = realm.clients[client_id]
    out = ["", "openid", "unknown-scope"]
    out += list(client.optional_scopes)
    if client.optional_scopes:
        out.append(" ".join(client.optional_scopes))
    if client.default_scopes:
        out.append(client.default_scopes[0])
    return out


def requests_for(realm: Realm) -> list[Request]:
    """Every client-credentials and password request the realm allows (and its refusals)."""
    raw_secrets = {str(c.get("clientId")): c.get("secret")
                   for c in realm.raw.get("clients") or () if isinstance(c, dict)}
    out: list[Request] = []
    for client in realm.clients.values():
        if client.client_id not in raw_secrets or client.protocol != "openid-connect":
            continue  # built-in clients the file does not list
        secret = None if client.public else raw_secrets.get(client.client_id)
        if client.service_accounts and not client.public:
            out += [Request(realm.name, client.client_id, "client_credentials", s, secret)
                    for s in _scopes(realm, client.client_id)]
        if client.direct_access:
            for user in realm.users.values():
                if user.password is None:
                    continue
                for scope in _scopes(realm, client.client_id):
                    out.append(Request(realm.name, client.client_id, "password", scope, secret,
                                       user.username, user.password))
    return out


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a compact JWS (no verification: both servers' keys are checked apart)."""
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        # Keycloak's role, group and audience lists come from hash sets: order is not stable.
        return ("array", sorted(json.dumps(_normal(v), sort_keys=True) for v in value))
    return (type(value).__name__, value)


def comparable(claims: dict[str, Any]) -> dict[str, Any]:
    """Claim names, JSON types and values, with by-nature values reduced to their type."""
    out: dict[str, Any] = {}
    for name, value in claims.items():
        if name in BY_NATURE or (name == "aud" and value == claims.get("iss")):
            out[name] = type(value).__name__
        elif name == "scope" and isinstance(value, str):
            out[name] = ("scope", sorted(value.split()))
        elif name == "aud_x" or name == "aud":
            auds = [value] if isinstance(value, str) else value
            out[name] = (type(value).__name__, sorted(auds))
        else:
            out[name] = _normal(value)
    return out


def comparable_response(body: dict[str, Any]) -> dict[str, Any]:
    """A token response without the fields compared otherwise."""
    out = {k: _normal(v) for k, v in body.items() if k not in RESPONSE_BY_NATURE}
    out["fields"] = sorted(body)
    if isinstance(body.get("scope"), str):
        out["scope"] = sorted(body["scope"].split())
    return out
