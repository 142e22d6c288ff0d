"""``Verifier``: from a bearer token string to verified ``Claims``, or a refusal with a code.

The order of checks, each cheaper than the next and none trusting what is not yet verified:

1. size cap (``token_too_large``), ASCII, exactly three segments (``token_malformed``; a JWE's
   five segments too), canonical base64url in all three (``token_malformed``);
2. header: strict JSON object, ``alg`` in the allow-list (``alg_not_allowed``), no ``crit``
   (``crit_unsupported``), ``b64`` absent or true, ``typ`` absent or JWT/at+jwt, ``kid`` a
   string (``header_invalid``); ``jku``/``x5u``/``x5c``/``jwk`` are never used;
3. key by ``kid`` and ``alg`` from the key set (``key_not_found``);
4. signature (``signature_invalid``) — before any claim is looked at;
5. payload: strict JSON object; ``exp`` required and numeric (``claim_invalid``), not past
   (``token_expired``); ``nbf`` (``token_not_yet_valid``) and ``iat`` (``iat_in_future``),
   all with the leeway; ``iss`` exact (``issuer_mismatch``); audience
   (``audience_mismatch``); Keycloak's ``typ`` claim (``token_type_invalid``);
6. binding: a DPoP-bound token (``cnf.jkt``, or Keycloak's ``typ`` ``DPoP``) is refused by
   :meth:`Verifier.verify` (``dpop_bound_token``: it was sent as a bearer token);
   :meth:`Verifier.verify_dpop` wants one (``dpop_binding_missing``) and leaves the proof to
   the ``Guard`` (:mod:`svcauth.receiver._dpop`). The two paths cache under different keys
   (the token, and ``("DPoP", token)``: no string equals a tuple), so a token verified for
   one is never a hit for the other, however the caller spells it.

Validated headers are remembered by their exact base64url text (Keycloak repeats the same
header on every token), so the hot path decodes and parses only the payload.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import ConfigurationError
from .._telemetry._records import acounted, counted, verification
from .._telemetry._state import STATE as _TELEMETRY
from .._telemetry._state import tracing
from .._telemetry._tally import caches as _followed_caches
from ..providers import FROM_PROFILE, KEYCLOAK, ProviderProfile, profile_named
from ._cache import VerifiedTokenCache
from ._claims import Claims
from ._compact import (
    HeaderInfo,
    check_audience,
    check_issuer,
    check_times,
    check_token_type,
    invalid,
    json_object,
    parse_header,
    segment,
)
from ._keys import SUPPORTED_ALGS, KeyEntry
from ._keyset import KeySet, key_source

__all__ = ["Verifier"]

_HEADER_CACHE_SIZE = 256
_DEFAULT: Any = object()
_BOUND = "DPoP"  # cache key (_BOUND, token) of tokens verified for the DPoP scheme


def _algorithms(algorithms: Sequence[str] | str) -> frozenset[str]:
    algs = (algorithms,) if isinstance(algorithms, str) else tuple(algorithms)
    if not algs:
        raise ConfigurationError("Verifier algorithms: expected at least one, found none",
                                 code="config_missing")
    for alg in algs:
        if not isinstance(alg, str) or alg.lower() == "none":
            raise ConfigurationError("Verifier algorithms: 'none' is never allowed")
        if alg.upper().startswith("HS"):
            raise ConfigurationError(f"Verifier algorithms: HMAC ({alg}) is refused: a receiver "
                                     "verifies with public keys only")
        if alg not in SUPPORTED_ALGS:
            raise ConfigurationError(f"Verifier algorithms: expected names from "
                                     f"{sorted(SUPPORTED_ALGS)}, found {alg!r}")
    return frozenset(algs)


def _audiences(audience: str | Sequence[str]) -> frozenset[str]:
    auds = (audience,) if isinstance(audience, str) else tuple(audience or ())
    if not auds or not all(isinstance(a, str) and a for a in auds):
        raise ConfigurationError("Verifier audience: expected one or more non-empty strings "
                                 "(the receiver's client id)", code="config_missing")
    return frozenset(auds)


class Verifier:
    """Verifies compact-JWS access tokens of one issuer for one receiver.

    It does not construct without an issuer, an audience and an algorithm allow-list
    (``none`` and HMAC algorithms are refused). ``verify`` and ``averify`` return
    :class:`Claims` or raise ``InvalidTokenError`` (see the module docs for the codes) or
    ``KeySetUnavailableError``::

        verifier = Verifier(issuer=ISSUER, audience="notification-service",
                            key_set=RemoteKeySet.from_discovery(ISSUER))
        claims = verifier.verify(token)

    ``profile`` (:mod:`svcauth.providers`, default ``KEYCLOAK``) decides the ``typ`` rules:
    Keycloak's ``typ`` claim must be ``Bearer`` (ID and refresh tokens are refused);
    ``profile=RFC9068`` wants header ``typ`` ``at+jwt`` and no claim. ``token_types``
    overrides the profile's accepted claim values (``None``: no check).
    ``cache`` defaults to a fresh :class:`VerifiedTokenCache`; ``None`` turns caching off.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str | Sequence[str],
        key_set: KeySet,
        algorithms: Sequence[str] | str = ("RS256",),
        leeway: float = 30.0,
        max_token_bytes: int = 8192,
        token_types: Sequence[str] | None = FROM_PROFILE,
        profile: ProviderProfile | str = KEYCLOAK,
        clock: Callable[[], float] = time.time,
        cache: VerifiedTokenCache | None = _DEFAULT,
    ) -> None:
        if not isinstance(issuer, str) or not issuer:
            raise ConfigurationError("Verifier issuer: expected the provider's issuer URL, "
                                     "found none", code="config_missing")
        if key_set is None:
            raise ConfigurationError("Verifier key_set: expected a key set, found none",
                                     code="config_missing")
        source = key_source(key_set)
        bound = source.issuer
        if bound is not None and bound != issuer:
            raise ConfigurationError(f"Verifier key_set: expected keys of issuer {issuer!r}, "
                                     f"found a key set of {bound!r}")
        if leeway < 0 or leeway > 300:
            raise ConfigurationError(f"Verifier leeway: expected 0..300 s, found {leeway}")
        if max_token_bytes < 64:
            raise ConfigurationError(f"Verifier max_token_bytes: expected >= 64, found "
                                     f"{max_token_bytes}")
        self.issuer = issuer
        """The exact ``iss`` accepted."""
        self.audiences = _audiences(audience)
        """Accepted audiences: one of them must be in ``aud``."""
        self.algorithms = _algorithms(algorithms)
        """The JWS algorithm allow-list."""
        self.leeway = float(leeway)
        """Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""
        self.max_token_bytes = max_token_bytes
        """Longer tokens are refused before any decoding."""
        profile = profile_named(profile)
        self.profile = profile
        """The provider's token conventions (:mod:`svcauth.providers`)."""
        if token_types is FROM_PROFILE:
            token_types = profile.token_types
        self.token_types = frozenset(token_types) if token_types is not None else None
        """Accepted ``typ`` claim values (Keycloak's ``Bearer``), or ``None`` to skip the
        check; the profile's unless given."""
        self._header_types = (frozenset(profile.header_types)
                              if profile.header_types is not None else None)
        self._bound_types = (self.token_types | {"DPoP"}
                             if self.token_types is not None else None)
        self.clock = clock
        """Wall-clock seconds since the epoch."""
        self.key_set = key_set
        """Where keys come from."""
        self._lookup = source.lookup
        self._resolve = source.resolve
        self._aresolve = source.aresolve
        if cache is _DEFAULT:
            cache = VerifiedTokenCache(clock=clock)
        if cache is not None:
            if cache.owner is not None and cache.owner is not self:
                raise ConfigurationError("Verifier cache: a VerifiedTokenCache serves one "
                                         "verifier; give each verifier its own")
            cache.owner = self
        self.cache = cache
        """The verified-token cache, or ``None``."""
        if cache is not None:
            _followed_caches.add(cache)  # its hits/misses feed the metrics, read lazily
        self._headers: dict[bytes, HeaderInfo] = {}

    def __repr__(self) -> str:
        return (f"Verifier(issuer={self.issuer!r}, audience={sorted(self.audiences)!r}, "
                f"algorithms={sorted(self.algorithms)!r})")

    def _front(self, token: str) -> tuple[HeaderInfo, bytes, bytes, bytes]:
        """Steps 1-2: cap, split, decode, header. Returns header, payload, signature and the
        signing input."""
        if type(token) is not str:
            raise invalid("token_malformed", f"token: expected a string, found "
                          f"{type(token).__name__}")
        if len(token) > self.max_token_bytes:
            raise invalid("token_too_large", f"token: expected at most {self.max_token_bytes} "
                          f"bytes, found {len(token)}")
        try:
            raw = token.encode("ascii")
        except UnicodeEncodeError:
            raise invalid("token_malformed", "token: expected ASCII characters only") from None
        parts = raw.split(b".")
        if len(parts) != 3:
            kind = " (a JWE? only signed tokens are accepted)" if len(parts) == 5 else ""
            raise invalid("token_malformed", f"token: expected 3 dot-separated segments, found "
                          f"{len(parts)}{kind}")
        h, p, s = parts
        payload = segment(p, "payload")
        signature = segment(s, "signature")
        info = self._headers.get(h)
        if info is None:
            info = parse_header(h, self.algorithms)
            if len(self._headers) >= _HEADER_CACHE_SIZE:
                self._headers.clear()
            self._headers[h] = info
        if self._header_types is not None:
            typ = info.header.get("typ")
            if type(typ) is not str or typ.lower() not in self._header_types:
                raise invalid("header_invalid", f"header typ: expected one of "
                              f"{sorted(self._header_types)} ({self.profile.name} profile), "
                              f"found {'none' if typ is None else 'another'}")
        return info, payload, signature, raw[: len(h) + len(p) + 1]

    def _back(
        self, token: str, info: HeaderInfo, payload_raw: bytes, signature: bytes,
        signing_input: bytes, entry: KeyEntry, bound: bool = False,
    ) -> Claims:
        """Steps 4-5: signature, then claims; caches the result."""
        if not entry.verify(signature, signing_input):
            raise invalid("signature_invalid", f"signature: expected a valid {info.alg} "
                          "signature by the key set's key, found an invalid one")
        payload = json_object(payload_raw, "payload")
        exp = check_times(payload, self.clock(), self.leeway)
        if payload.get("iss") != self.issuer:
            check_issuer(payload, self.issuer)
        aud = payload.get("aud")
        if type(aud) is not str or aud not in self.audiences:
            check_audience(payload, self.audiences)
        cnf = payload.get("cnf")
        jkt = cnf.get("jkt") if type(cnf) is dict else None
        if bound:
            if type(jkt) is not str or not jkt:
                raise invalid("dpop_binding_missing", "token: expected a DPoP-bound token "
                              "(cnf.jkt) with the DPoP scheme, found an unbound one")
        elif jkt is not None or payload.get("typ") == "DPoP":
            raise invalid("dpop_bound_token", "token: expected a bearer token, found a "
                          "DPoP-bound one (cnf.jkt) sent without its proof")
        types = self._bound_types if bound else self.token_types
        if types is not None:
            check_token_type(payload, types)
        claims = Claims(payload, info.header, info.kid, info.alg)
        if self.cache is not None:
            self.cache.put((_BOUND, token) if bound else token, claims, exp, entry)
        return claims

    def verify(self, token: str) -> Claims:
        """Verify ``token`` (blocking: may fetch keys); :class:`Claims` or an error."""
        cache = self.cache
        if cache is not None and type(token) is str:
            hit = cache.get(token)
            if hit is not None:
                return hit  # counted by the cache; no span on a hit
        return self._verify_counted(token, False)

    def _verify_counted(self, token: str, bound: bool) -> Claims:
        """The uncached verification, counted (and a ``svcauth.verify`` span while tracing)."""
        if not _TELEMETRY.enabled:
            return self._verify_uncached(token, bound)
        if not tracing():
            return counted(self._verify_bound if bound else self._verify_uncached, token)
        with verification("DPoP" if bound else "Bearer") as record:
            claims = self._verify_uncached(token, bound)
            record.caller = claims.azp or claims.client_id
        return claims

    def _verify_uncached(self, token: str, bound: bool = False) -> Claims:
        info, payload, signature, signing_input = self._front(token)
        entry = self._lookup(info.kid, info.alg) or self._resolve(info.kid, info.alg)
        return self._back(token, info, payload, signature, signing_input, entry, bound)

    def verify_dpop(self, token: str) -> Claims:
        """Verify a token sent with the DPoP scheme: like :meth:`verify`, but the token must
        be DPoP-bound (``cnf.jkt``). The caller (the ``Guard``) still checks the proof and
        the binding on every request; only this verification is cached."""
        cache = self.cache
        if cache is not None and type(token) is str:
            hit = cache.get((_BOUND, token))
            if hit is not None:
                return hit
        return self._verify_counted(token, True)

    def _verify_bound(self, token: str) -> Claims:
        return self._verify_uncached(token, True)

    async def averify_dpop(self, token: str) -> Claims:
        """Async twin of :meth:`verify_dpop`."""
        cache = self.cache
        if cache is not None and type(token) is str:
            hit = cache.get((_BOUND, token))
            if hit is not None:
                return hit
        return await self._averify_counted(token, True)

    async def _averify_bound(self, token: str) -> Claims:
        return await self._averify_uncached(token, True)

    async def averify(self, token: str) -> Claims:
        """Verify ``token`` (asyncio: key fetches do not block the loop)."""
        cache = self.cache
        if cache is not None and type(token) is str:
            hit = cache.get(token)
            if hit is not None:
                return hit
        return await self._averify_counted(token, False)

    async def _averify_counted(self, token: str, bound: bool) -> Claims:
        """Async twin of :meth:`_verify_counted`."""
        if not _TELEMETRY.enabled:
            return await self._averify_uncached(token, bound)
        if not tracing():
            return await acounted(self._averify_bound if bound else self._averify_uncached,
                                  token)
        with verification("DPoP" if bound else "Bearer") as record:
            claims = await self._averify_uncached(token, bound)
            record.caller = claims.azp or claims.client_id
        return claims

    async def _averify_uncached(self, token: str, bound: bool = False) -> Claims:
        info, payload, signature, signing_input = self._front(token)
        entry = self._lookup(info.kid, info.alg) or await self._aresolve(info.kid, info.alg)
        return self._back(token, info, payload, signature, signing_input, entry, bound)

