"""Minting and checking the provider's own tokens: claims from ``_tokens`` signed with
the realm's keys. Pure except for the key ring (thread-safe) and the injected time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from .._jws import ALGORITHMS
from ._keys import KeyRing, split_token
from ._realm import Client, Realm, User
from ._tokens import Grant, access_token_claims, id_token_claims, refresh_token_claims


class TokenIssuer:
    """Signs access, ID and refresh tokens for a realm and recognises its access tokens."""

    def __init__(self, realm: Realm, keys: KeyRing) -> None:
        self.realm = realm
        self.keys = keys

    def access_token(self, grant: Grant, *, lifetime: int | None = None,
                     extra_claims: Mapping[str, Any] | None = None,
                     kid: str | None = None) -> tuple[str, int]:
        """Sign an access token; returns it and its lifetime in seconds."""
        life = lifetime if lifetime is not None else grant.client.token_lifespan(
            self.realm.access_token_lifespan)
        claims = access_token_claims(grant, lifetime=life)
        claims.update(extra_claims or {})
        return self.keys.sign(claims, kid=kid), life

    def id_token(self, grant: Grant, access_token: str, lifetime: int) -> str:
        """Sign an ID token for a user grant."""
        return self.keys.sign(id_token_claims(grant, lifetime=lifetime,
                                              access_token=access_token))

    def refresh_token(self, grant: Grant) -> tuple[str, int]:
        """Sign (HS512) a refresh token for a user grant; returns it and its lifetime."""
        life = self.realm.sso_session_idle
        token = self.keys.sign_hmac(refresh_token_claims(grant, lifetime=life))
        return token, 0 if grant.offline else life  # offline: refresh_expires_in 0

    def service_grant(self, client: Client, *, issuer: str, now: float, scope: str,
                      client_address: str) -> Grant | None:
        """The grant for a client's service account, or None when it has none."""
        user = self.realm.service_account_user(client.client_id)
        if user is None:
            return None
        return Grant(realm=self.realm, client=client, user=user, issuer=issuer,
                     now=int(now), scope=scope, client_address=client_address)

    def user_grant(self, client: Client, user: User, *, issuer: str, now: float,
                   scope: str) -> Grant:
        """The grant for a user signing in at ``client`` (a new session id)."""
        return Grant(realm=self.realm, client=client, user=user, issuer=issuer,
                     now=int(now), scope=scope, session_id=str(uuid.uuid4()))

    def verified_claims(self, token: str, *, issuer: str | None,
                        now: float | None = None) -> dict[str, Any] | None:
        """Claims of a valid, unexpired RS256 token this provider signed, else None."""
        parts = split_token(token)
        if parts is None:
            return None
        header, claims, signature, signing_input = parts
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            return None
        key = self.keys.public_key(header["kid"])
        if key is None or not ALGORITHMS["RS256"].verify(key, signing_input, signature):
            return None
        exp = claims.get("exp")
        current = time.time() if now is None else now
        if not isinstance(exp, int | float) or exp <= current:
            return None
        if issuer is not None and claims.get("iss") != issuer:
            return None
        return claims
