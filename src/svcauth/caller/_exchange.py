"""RFC 8693 token exchange, the pure part: build the request, read the subject token's
``exp`` (unverified, only to cap the exchanged token), and the fetching source of one
(subject token, audience, scope) that :class:`~svcauth.caller.TokenExchanger` caches.

The fetch goes through the client's own retrying flow (:mod:`svcauth.caller._fetch_flow`)
and is parsed by :func:`~svcauth.caller.parse_token_response`: nothing here retries or
parses HTTP itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Hashable, Sequence

from .._jws import b64url_decode
from ._client_auth import ClientAuth
from ._config import ClientConfig
from ._dpop import DPoPKey
from ._source import ClientCredentialsSource
from ._token import Token
from ._token_endpoint import TokenRequest

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
"""RFC 8693 §2.1 ``grant_type``."""
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
"""RFC 8693 §3 token type of an access token: the only subject Keycloak exchanges."""


def build_exchange_request(
    *, token_endpoint: str, client_id: str, auth: ClientAuth, subject_token: str,
    audience: Sequence[str] = (), scope: Sequence[str] = (), timeout: float = 5.0,
) -> TokenRequest:
    """The token-exchange request (RFC 8693 §2.1) of ``client_id`` authenticated with ``auth``.

    ``subject_token`` is sent as an access token; each ``audience`` as its own field (the
    target clients: Keycloak narrows ``aud`` and client roles to them), ``scope``
    space-joined.
    """
    auth_headers, auth_form = auth.apply(client_id, token_endpoint)
    form: list[tuple[str, str]] = [
        ("grant_type", TOKEN_EXCHANGE_GRANT), ("subject_token", subject_token),
        ("subject_token_type", ACCESS_TOKEN_TYPE)]
    form.extend(("audience", a) for a in audience)
    if scope:
        form.append(("scope", " ".join(scope)))
    form.extend(auth_form)
    headers = {"Accept": "application/json",
               "Content-Type": "application/x-www-form-urlencoded", **auth_headers}
    return TokenRequest(url=token_endpoint, headers=headers, form=tuple(form), timeout=timeout)


def subject_expiry(subject_token: str) -> float | None:
    """The subject token's ``exp`` (seconds since the epoch), read WITHOUT verification.

    Only to cap how long an exchanged token is served: the identity provider verifies the
    subject token. ``None`` when it is no JWT or carries no finite numeric ``exp``.
    """
    parts = subject_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        return None
    return float(exp)


def cap_to_subject(token: Token, subject_exp: float | None, offset: float) -> Token:
    """``token`` expiring no later than the subject token.

    ``offset`` is the token's clock minus wall-clock time, read at one instant, so the
    subject's ``exp`` (epoch seconds) becomes ``subject_exp + offset`` on the token's clock.
    A subject without a readable ``exp`` gives a token that expires at once: used for the
    call that asked for it, never served from the cache.
    """
    if subject_exp is None:
        return dataclasses.replace(token, expires_at=token.issued_at)
    cap = subject_exp + offset
    if cap >= token.expires_at:
        return token
    return dataclasses.replace(token, expires_at=max(cap, token.issued_at))


def subject_digest(subject_token: str) -> str:
    """SHA-256 of the subject token, hex: its part of the cache key (the token is not)."""
    return hashlib.sha256(subject_token.encode("utf-8")).hexdigest()


class ExchangeFetch:
    """Fetches exchanged tokens for one (subject token, audience, scope) as ``client``.

    A :class:`~svcauth.caller.FetchingSource`: wrapped in ``CachingTokenSource`` by
    :class:`~svcauth.caller.TokenExchanger`, it gets the client-credentials cache's single
    flight, failure memory and 401 rule, under its own cache key.
    """

    def __init__(self, client: ClientCredentialsSource, subject_token: str,
                 audience: tuple[str, ...], scope: tuple[str, ...]) -> None:
        self._client = client
        self._subject = subject_token
        self._subject_exp = subject_expiry(subject_token)
        self._digest = subject_digest(subject_token)
        self.audience = audience
        """The target audiences asked for."""
        self.scope = scope
        """The scopes asked for."""
        self.clock: Callable[[], float] = client.clock
        """The clock tokens are stamped with (the client's)."""

    def __repr__(self) -> str:
        return (f"ExchangeFetch(client_id={self._client.config.client_id!r}, "
                f"subject=sha256:{self._digest[:12]}, audience={self.audience!r}, "
                f"scope={self.scope!r})")

    @property
    def config(self) -> ClientConfig:
        """The exchanging client's configuration (timing and identity)."""
        return self._client.config

    @property
    def dpop(self) -> DPoPKey | None:
        """``None``: the exchange request carries no proof, its tokens are Bearer tokens."""
        return None

    def cache_key(self) -> Hashable:
        """(``token-exchange``, the client's own key, SHA-256 of the subject, audience,
        scope): never equal to a client-credentials key, never holding the subject."""
        return ("token-exchange", self._client.cache_key(), self._digest, self.audience,
                self.scope)

    def _build(self, timeout: float) -> TokenRequest:
        c = self._client.config
        assert c.token_endpoint
        return build_exchange_request(
            token_endpoint=c.token_endpoint, client_id=c.client_id, auth=c.auth,
            subject_token=self._subject, audience=self.audience, scope=self.scope,
            timeout=timeout)

    def _offset(self) -> float:
        return self.clock() - self._client.wall_clock()

    def fetch(self) -> Token:
        """Exchange the subject token now (blocking, the client's retries)."""
        token = self._client.fetch_with(self._build)
        return cap_to_subject(token, self._subject_exp, self._offset())

    async def afetch(self) -> Token:
        """Async twin of :meth:`fetch`."""
        token = await self._client.afetch_with(self._build)
        return cap_to_subject(token, self._subject_exp, self._offset())
