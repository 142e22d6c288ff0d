"""``IntrospectionVerifier``: ask the provider whether a token is active (RFC 7662), for
endpoints that must notice revocation before a token expires.

The receiver authenticates with HTTP Basic (``client_id``/``client_secret``, form-encoded
first as RFC 6749 §2.3.1 says). Positive answers are cached until ``min(exp, now + ttl)``
(default ttl 30 s: how late a revocation may be noticed); negative answers are never cached.

Keycloak 26.6.2 and later answer ``{"active": false}`` unless the introspecting client is in
the token's ``aud``: give the caller a role of the receiver or add an audience mapper, exactly
as for local verification.

The exchange is one flow (``_verify_flow``) run by the shared drivers of :mod:`svcauth._flow`.
"""

from __future__ import annotations

import base64
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx

from .._discovery import adiscover, discover
from .._errors import ConfigurationError, KeySetUnavailableError
from .._flow import Call, Flow, HttpAnswer, HttpRequest, json_object, run_async, run_sync
from ..providers import FROM_PROFILE, KEYCLOAK, ProviderProfile, profile_named
from ._cache import VerifiedTokenCache
from ._claims import Claims
from ._compact import check_audience, check_issuer, check_times, check_token_type, invalid
from ._verifier import Verifier

__all__ = ["IntrospectionVerifier"]

MAX_ANSWER_BYTES = 64 * 1024
_NO_HEADER: Mapping[str, Any] = MappingProxyType({})
_REQUIRED: Any = object()

log = logging.getLogger("svcauth.receiver")


def _unavailable(url: str, reason: str) -> KeySetUnavailableError:
    return KeySetUnavailableError(f"introspection at {url}: {reason}",
                                  code="introspection_unavailable")


def basic_auth(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1 Basic credentials: each part form-encoded, then base64."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def parse_answer(url: str, status: int, body: bytes) -> dict[str, Any]:
    """The introspection answer as a JSON object; anything else is unavailability."""
    if status != 200:
        raise _unavailable(url, f"expected HTTP 200, found {status}")
    try:
        return json_object(body)
    except ValueError as exc:
        raise _unavailable(url, str(exc)) from None


class IntrospectionVerifier:
    """Verifies tokens by RFC 7662 introspection; same ``verify``/``averify`` as ``Verifier``.

    ::

        verifier = IntrospectionVerifier(
            meta.introspection_endpoint, issuer=ISSUER, audience="notification-service",
            client_id="notification-service", client_secret=SECRET)

    An inactive token is ``InvalidTokenError(code="token_inactive")``; an answer that is
    active but for another issuer, audience or token type fails like local verification
    (``issuer_mismatch``, ``audience_mismatch``, ``token_type_invalid``). An unreachable or
    failing endpoint is ``KeySetUnavailableError(code="introspection_unavailable")``. With
    ``local``, a :class:`Verifier` checks signature and claims first, so forged tokens
    never reach the provider.
    """

    def __init__(
        self,
        introspection_endpoint: str,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        audience: str | Sequence[str] | None = _REQUIRED,
        token_types: Sequence[str] | None = FROM_PROFILE,
        profile: ProviderProfile | str = KEYCLOAK,
        ttl: float = 30.0,
        maxsize: int = 10_000,
        timeout: float = 5.0,
        leeway: float = 30.0,
        max_token_bytes: int = 8192,
        clock: Callable[[], float] = time.time,
        local: Verifier | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not introspection_endpoint.startswith(("https://", "http://")):
            raise ConfigurationError("introspection_endpoint: expected an http(s) URL, found "
                                     f"{introspection_endpoint!r}")
        if not issuer or not client_id or not client_secret:
            raise ConfigurationError("IntrospectionVerifier: expected issuer, client_id and "
                                     "client_secret", code="config_missing")
        self.endpoint = introspection_endpoint
        """The RFC 7662 endpoint."""
        self.issuer = issuer
        """The exact ``iss`` an active answer must carry (when it carries one)."""
        if audience is _REQUIRED:
            raise ConfigurationError(
                "IntrospectionVerifier audience: expected the receiver's audience (its client "
                "id), found none; pass audience=None to leave the check to the provider "
                "knowingly", code="config_missing")
        if audience is None:
            log.warning("svcauth: IntrospectionVerifier for %s: audience=None, the audience "
                        "of introspected tokens is NOT checked (left to the provider)",
                        introspection_endpoint)
        self.audiences = (frozenset((audience,) if isinstance(audience, str) else audience)
                          if audience is not None else None)
        """Accepted audiences, or ``None`` (explicit opt-out, logged) to leave the audience to
        the provider."""
        self.profile = profile_named(profile)
        """The provider's token conventions (:mod:`svcauth.providers`)."""
        if token_types is FROM_PROFILE:
            token_types = self.profile.token_types
        self.token_types = frozenset(token_types) if token_types is not None else None
        """Accepted ``typ`` values of an active answer (the profile's unless given: Keycloak
        ``Bearer``; RFC 9068 none), or ``None``."""
        self.timeout = timeout
        """Deadline of one introspection call, in seconds."""
        self.leeway = leeway
        """Seconds of clock skew tolerated on ``exp``/``nbf``/``iat``."""
        self.max_token_bytes = max_token_bytes
        """Longer tokens are refused without asking the provider."""
        self.clock = clock
        """Wall-clock seconds since the epoch."""
        self.local = local
        """An optional local verifier run first."""
        self.cache = VerifiedTokenCache(maxsize=maxsize, ttl=ttl, clock=clock)
        """Positive answers, until ``min(exp, now + ttl)``."""
        self.cache.owner = self
        self._auth = basic_auth(client_id, client_secret)
        self._http = http_client
        self._ahttp = async_http_client
        self.calls = 0
        """How many introspection requests were sent."""

    def __repr__(self) -> str:
        return f"IntrospectionVerifier({self.endpoint!r}, issuer={self.issuer!r})"

    @classmethod
    def from_discovery(cls, issuer: str, *, http_client: httpx.Client | None = None,
                       **options: Any) -> IntrospectionVerifier:
        """Find the ``introspection_endpoint`` through discovery (blocking)."""
        meta = discover(issuer, client=http_client)
        if meta.introspection_endpoint is None:
            raise ConfigurationError(f"discovery at {issuer}: no introspection_endpoint")
        return cls(meta.introspection_endpoint, issuer=meta.issuer, http_client=http_client,
                   **options)

    @classmethod
    async def afrom_discovery(cls, issuer: str, *,
                              async_http_client: httpx.AsyncClient | None = None,
                              **options: Any) -> IntrospectionVerifier:
        """Find the ``introspection_endpoint`` through discovery (asyncio)."""
        meta = await adiscover(issuer, client=async_http_client)
        if meta.introspection_endpoint is None:
            raise ConfigurationError(f"discovery at {issuer}: no introspection_endpoint")
        return cls(meta.introspection_endpoint, issuer=meta.issuer,
                   async_http_client=async_http_client, **options)

    def _precheck(self, token: str) -> Claims | None:
        if type(token) is not str or not token:
            raise invalid("token_malformed", "token: expected a non-empty string")
        if len(token) > self.max_token_bytes:
            raise invalid("token_too_large", f"token: expected at most {self.max_token_bytes} "
                          f"bytes, found {len(token)}")
        return self.cache.get(token)

    def _request(self, token: str) -> HttpRequest:
        self.calls += 1
        headers = {"Authorization": self._auth, "Accept": "application/json",
                   "Content-Type": "application/x-www-form-urlencoded"}
        form = urlencode({"token": token, "token_type_hint": "access_token"}).encode("ascii")
        return HttpRequest("POST", self.endpoint, headers, form, self.timeout)

    def _accept(self, token: str, answer: dict[str, Any], local: Claims | None) -> Claims:
        """Pure decision on one answer; caches positive ones."""
        if answer.get("active") is not True:
            raise invalid("token_inactive", "token: the provider reports it inactive (revoked, "
                          "expired, or the introspecting client is not in its aud)")
        now = self.clock()
        exp = check_times(answer, now, self.leeway) if "exp" in answer else now + self.cache.ttl
        if "iss" in answer:
            check_issuer(answer, self.issuer)
        if self.audiences is not None:
            check_audience(answer, self.audiences)
        if self.token_types is not None:
            check_token_type(answer, self.token_types)
        claims = local if local is not None else Claims(answer, _NO_HEADER, None, None)
        self.cache.put(token, claims, exp, None)
        return claims

    def _verify_flow(self, token: str) -> Flow[Claims]:
        hit = self._precheck(token)
        if hit is not None:
            return hit
        local: Claims | None = None
        if self.local is not None:
            local = yield Call(functools.partial(self.local.verify, token),
                               functools.partial(self.local.averify, token))
        answer = yield self._request(token)
        if not isinstance(answer, HttpAnswer):
            raise _unavailable(self.endpoint, f"unreachable ({answer.kind})")
        if len(answer.body) > MAX_ANSWER_BYTES:
            raise _unavailable(self.endpoint, f"expected at most {MAX_ANSWER_BYTES} bytes")
        return self._accept(token, parse_answer(self.endpoint, answer.status, answer.body), local)

    def verify(self, token: str) -> Claims:
        """Introspect ``token`` (blocking)."""
        return run_sync(self._verify_flow(token), self._http)

    async def averify(self, token: str) -> Claims:
        """Introspect ``token`` (asyncio)."""
        return await run_async(self._verify_flow(token), self._ahttp)
