"""The storefront's side of OpenID Connect: authorization code + PKCE (S256), the code
exchange and refresh with the client secret (HTTP Basic), the ID token's check, and the
RP-initiated logout URL.

Written on httpx (no OAuth client library): the request building is a few pure functions
below, the round trips are :class:`OidcClient`'s. The ID token is verified with svcauth's
own :class:`~svcauth.receiver.Verifier` (signature, ``iss``, ``aud`` = this client, ``typ``
``ID``, expiry) and then its ``nonce`` and ``azp``. The access token is not this client's
to verify (its audience is shop-api): the storefront reads its claims only to choose what
to *show* (the admin link); shop-api verifies it on every call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from mockmart.services.storefront.settings import StorefrontSettings
from svcauth.receiver import RemoteKeySet, Verifier

__all__ = [
    "LoginFailed",
    "OidcClient",
    "PendingLogin",
    "TokenSet",
    "authorization_url",
    "logout_url",
    "new_login",
    "unverified_claims",
]


class LoginFailed(Exception):
    """A login or refresh that did not give tokens; ``code`` is stable, ``message`` safe to
    show (no token, no secret)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PendingLogin:
    """A started login: what the callback must match (kept in the server-side session)."""

    state: str
    """The ``state`` sent to the provider (compared in constant time at the callback)."""
    nonce: str
    """The ``nonce`` the ID token must carry."""
    verifier: str = field(repr=False)
    """The PKCE ``code_verifier`` (its S256 challenge went to the provider)."""
    next_path: str
    """The local path to return to after the login."""
    started: float
    """When the login started (the clock's seconds)."""


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one logged-in session (never sent to the browser)."""

    access_token: str = field(repr=False)
    """For shop-api."""
    refresh_token: str | None = field(repr=False)
    """To renew the access token; None when the provider gave none."""
    id_token: str = field(repr=False)
    """The ID token: kept for ``id_token_hint`` at logout."""
    expires_at: float
    """When the access token runs out (the clock's seconds, from ``expires_in``)."""


def s256(verifier: str) -> str:
    """RFC 7636 S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_login(next_path: str, now: float) -> PendingLogin:
    """Fresh ``state``, ``nonce`` and PKCE verifier for a login returning to ``next_path``."""
    return PendingLogin(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                        verifier=secrets.token_urlsafe(48), next_path=next_path, started=now)


def authorization_url(endpoint: str, client_id: str, redirect_uri: str,
                      login: PendingLogin) -> str:
    """The provider's authorization URL for ``login`` (code, S256, ``openid``)."""
    query = urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
        "scope": "openid", "state": login.state, "nonce": login.nonce,
        "code_challenge": s256(login.verifier), "code_challenge_method": "S256"})
    return f"{endpoint}?{query}"


def logout_url(endpoint: str, client_id: str, id_token: str, post_logout_redirect_uri: str) -> str:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) with ``id_token_hint``."""
    query = urllib.parse.urlencode({"client_id": client_id, "id_token_hint": id_token,
                                    "post_logout_redirect_uri": post_logout_redirect_uri})
    return f"{endpoint}?{query}"


def state_matches(expected: str, found: str | None) -> bool:
    """Constant-time comparison of the callback's ``state``."""
    return found is not None and hmac.compare_digest(expected.encode(), found.encode())


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT received straight from the provider's token endpoint (used for
    display only; see the module docstring). Empty for anything else."""
    try:
        part = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _token_set(body: Mapping[str, Any], now: float, previous: TokenSet | None) -> TokenSet:
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise LoginFailed("token_response_invalid", "the provider's answer held no access token")
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 60.0
    id_token = body.get("id_token") or (previous.id_token if previous else None)
    if not isinstance(id_token, str):
        raise LoginFailed("token_response_invalid", "the provider's answer held no ID token")
    refresh = body.get("refresh_token") or (previous.refresh_token if previous else None)
    return TokenSet(access_token=access, refresh_token=refresh if isinstance(refresh, str)
                    else None, id_token=id_token, expires_at=now + lifetime)


class OidcClient:
    """The provider's endpoints (from discovery, fetched once) and the round trips."""

    def __init__(self, settings: StorefrontSettings, *,
                 clock: Callable[[], float] = time.time,
                 http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.http = http or httpx.AsyncClient(timeout=10.0)
        self._meta: dict[str, Any] | None = None
        provider = settings.provider
        self.id_tokens = Verifier(
            issuer=provider.issuer, audience=settings.client_id, token_types=("ID",),
            key_set=RemoteKeySet(provider.jwks_uri, issuer=provider.issuer), cache=None,
            clock=clock)

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (internal URL), fetched on first use."""
        if self._meta is None:
            provider = self.settings.provider
            internal = provider.keycloak_url.rstrip("/") + provider.issuer.removeprefix(
                provider.keycloak_public_url.rstrip("/"))
            answer = await self.http.get(internal + "/.well-known/openid-configuration")
            answer.raise_for_status()
            self._meta = answer.json()
        return self._meta

    async def _internal(self, name: str) -> str:
        """An endpoint of the discovery document, reached through the internal URL."""
        provider = self.settings.provider
        url: str = (await self.metadata())[name]
        public, internal = (provider.keycloak_public_url.rstrip("/"),
                            provider.keycloak_url.rstrip("/"))
        return internal + url.removeprefix(public) if url.startswith(public) else url

    async def authorization_endpoint(self) -> str:
        """Where the browser goes to log in (public URL)."""
        url: str = (await self.metadata())["authorization_endpoint"]
        return url

    async def end_session_endpoint(self) -> str:
        """Where the browser goes to log out (public URL)."""
        url: str = (await self.metadata())["end_session_endpoint"]
        return url

    async def _token(self, form: dict[str, str]) -> dict[str, Any]:
        answer = await self.http.post(
            await self._internal("token_endpoint"), data=form,
            auth=(self.settings.client_id, self.settings.client_secret))
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", "http_error") if isinstance(body, dict) else "http_error"
            raise LoginFailed(str(error)[:60], f"the provider refused the {form['grant_type']}"
                              f" request: HTTP {answer.status_code} {str(error)[:60]}")
        return body

    async def exchange(self, code: str, login: PendingLogin, redirect_uri: str) -> TokenSet:
        """Code + verifier for tokens; the ID token checked (``nonce``, ``azp``)."""
        now = self.clock()
        body = await self._token({"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": redirect_uri,
                                  "code_verifier": login.verifier})
        tokens = _token_set(body, now, None)
        try:
            claims = await self.id_tokens.averify(tokens.id_token)
        except Exception as exc:  # svcauth's InvalidTokenError / KeySetUnavailableError
            raise LoginFailed("id_token_invalid", f"the ID token was refused: "
                              f"{getattr(exc, 'code', type(exc).__name__)}") from exc
        if not state_matches(login.nonce, claims.get("nonce")):
            raise LoginFailed("nonce_mismatch", "the ID token's nonce is not this login's")
        if claims.get("azp", self.settings.client_id) != self.settings.client_id:
            raise LoginFailed("id_token_invalid", "the ID token was issued to another client")
        return tokens

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        """Renew the access token with the refresh token (LoginFailed when refused)."""
        if tokens.refresh_token is None:
            raise LoginFailed("no_refresh_token", "the session has no refresh token")
        now = self.clock()
        body = await self._token({"grant_type": "refresh_token",
                                  "refresh_token": tokens.refresh_token})
        return _token_set(body, now, tokens)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()
