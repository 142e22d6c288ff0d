"""DPoP proof verification (RFC 9449 §4.3), pure apart from the replay cache it is given.

The order of checks, cheapest first and nothing trusted before the signature:

1. size cap, ASCII, three segments, canonical base64url (``dpop_proof_malformed``);
2. header: strict JSON, ``typ`` ``dpop+jwt`` (``dpop_typ_invalid``), ``alg`` in the
   allow-list — never ``none`` nor HMAC (``dpop_alg_not_allowed``), a ``jwk`` object
   (``dpop_jwk_missing``) holding a PUBLIC key only (``dpop_jwk_private``; malformed or of
   the wrong type for ``alg``: ``dpop_jwk_invalid``), no ``crit`` (``dpop_proof_malformed``);
3. signature by that ``jwk`` (``dpop_signature_invalid``);
4. claims: ``jti``, ``htm``, ``htu``, ``iat`` present and typed (``dpop_claims_invalid``),
   ``htm`` the request's method (``dpop_htm_mismatch``), ``htu`` the request's URL without
   query and fragment (``dpop_htu_mismatch``), ``iat`` inside ``[now - max_age, now +
   leeway]`` (``dpop_iat_stale`` / ``dpop_iat_future``), ``ath`` the hash of the presented
   access token (``dpop_ath_mismatch``), the server ``nonce`` when nonces are on
   (``use_dpop_nonce``);
5. ``jti`` not seen before (``dpop_replayed``) — last, so refused proofs never fill the cache.

The binding (``cnf.jkt`` == the proof key's RFC 7638 thumbprint, ``dpop_jkt_mismatch``) is
checked by the ``Guard`` against the verified token's claims.

Validated headers are remembered by their exact base64url text together with the public key
built from their ``jwk`` and its thumbprint: a caller repeats one header on every proof, so
the hot path parses only the payload and checks one signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from .._errors import (
    ConfigurationError,
    InvalidDPoPProofError,
    InvalidTokenError,
    UseDPoPNonceError,
)
from .._jwk import key_from_jwk, thumbprint
from .._jws import ALGORITHMS, Algorithm, ecdsa_jose_verify
from .._jws import PublicKey as _PublicKey
from ._compact import json_object, segment
from ._dpop_state import DPoPNonces, ReplayCache

__all__ = [
    "DPoPNonces",
    "DPoPSettings",
    "ProofHeader",
    "ProofVerifier",
    "ReplayCache",
    "VerifiedProof",
    "access_token_hash",
    "normalise_htu",
    "verify_proof",
]

DPoPMode = Literal["off", "allowed", "required"]
DEFAULT_DPOP_ALGS = ("ES256", "EdDSA", "PS256", "RS256")
MAX_PROOF_BYTES = 4096
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_HEADER_CACHE_SIZE = 1024


def _bad(code: str, message: str) -> InvalidDPoPProofError:
    return InvalidDPoPProofError(message, code=code)


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url SHA-256 of the access token's ASCII bytes (RFC 9449 §4.2)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_htu(url: str) -> str:
    """``url`` as RFC 9449 §4.3 compares it: scheme and host lower-case, default port
    dropped, an empty path as ``/``, no query, no fragment. ``ValueError`` when not an
    absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("expected an absolute http(s) URL")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


@dataclass(frozen=True)
class DPoPSettings:
    """How a ``Guard`` treats the DPoP scheme (RFC 9449) on one endpoint.

    >>> DPoPSettings(mode="required", external_url="https://api.example.com")  # doctest: +SKIP
    """

    mode: DPoPMode = "off"
    """``off`` (default: today's Bearer-only behaviour), ``allowed`` (Bearer or DPoP) or
    ``required`` (DPoP only)."""
    algorithms: tuple[str, ...] = DEFAULT_DPOP_ALGS
    """Accepted proof algorithms (announced in ``WWW-Authenticate: DPoP algs=...``)."""
    max_age: float = 60.0
    """Seconds a proof's ``iat`` may lie in the past."""
    leeway: float = 5.0
    """Seconds a proof's ``iat`` may lie in the future (clock skew)."""
    external_url: str | None = None
    """The base URL callers use (``https://api.example.com``) when a proxy sits in front:
    ``htu`` is compared with it plus the request path instead of the URL the server saw."""
    replay: ReplayCache = field(default_factory=ReplayCache)
    """Seen ``jti`` values (one per settings object unless shared on purpose)."""
    nonces: DPoPNonces | None = None
    """Server nonces; ``None`` (default) asks for none."""
    clock: Callable[[], float] = time.time
    """Wall-clock seconds, the scale of ``iat``."""

    def __post_init__(self) -> None:
        if self.mode not in ("off", "allowed", "required"):
            raise ConfigurationError(f"DPoPSettings mode: expected off, allowed or required, "
                                     f"found {self.mode!r}")
        if not self.algorithms:
            raise ConfigurationError("DPoPSettings algorithms: expected at least one")
        for alg in self.algorithms:
            if alg not in ALGORITHMS:
                raise ConfigurationError(f"DPoPSettings algorithms: expected names from "
                                         f"{sorted(ALGORITHMS)}, found {alg!r}")
        if not 0 < self.max_age <= 3600 or not 0 <= self.leeway <= 300:
            raise ConfigurationError(f"DPoPSettings: expected 0 < max_age <= 3600 and 0 <= "
                                     f"leeway <= 300, found {self.max_age}, {self.leeway}")
        if self.external_url is not None:
            try:
                normalise_htu(self.external_url)
            except ValueError:
                raise ConfigurationError("DPoPSettings external_url: expected an absolute "
                                         "http(s) URL") from None

    @property
    def enabled(self) -> bool:
        """Whether the DPoP scheme is understood at all."""
        return self.mode != "off"

    def request_url(self, scheme: str, host: str, path: str) -> str:
        """The URL a proof's ``htu`` must name for a request the server saw as
        ``scheme://host`` + ``path`` (``external_url`` replaces the first part)."""
        if self.external_url is not None:
            return self.external_url.rstrip("/") + path
        return f"{scheme}://{host}{path}"


class ProofHeader:
    """A validated proof header: algorithm, public key and the key's thumbprint."""

    __slots__ = ("algorithm", "check", "jkt", "key")

    def __init__(self, algorithm: Algorithm, key: _PublicKey, jkt: str) -> None:
        self.algorithm = algorithm
        self.key = key
        self.jkt = jkt
        self.check: Callable[[bytes, bytes], bool] = _checker(algorithm, key)
        """``check(signing_input, signature)``; ECDSA objects built once per header."""


_EC_HASHES = {"ES256": (hashes.SHA256, 32), "ES384": (hashes.SHA384, 48),
              "ES512": (hashes.SHA512, 66)}


def _checker(algorithm: Algorithm, key: _PublicKey) -> Callable[[bytes, bytes], bool]:
    found = _EC_HASHES.get(algorithm.name)
    if found is None or not isinstance(key, ec.EllipticCurvePublicKey):
        return lambda data, sig: algorithm.verify(key, data, sig)
    digest, size = found
    scheme = ec.ECDSA(digest())
    verify = key.verify

    def check(data: bytes, sig: bytes) -> bool:
        return ecdsa_jose_verify(verify, scheme, size, data, sig)

    return check


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """What a valid proof established."""

    jkt: str
    """RFC 7638 thumbprint of the proof key (compared with the token's ``cnf.jkt``)."""
    jti: str
    """The proof's unique id."""
    iat: float
    """When the caller made it."""


def _decoded(raw: bytes, what: str) -> bytes:
    try:
        return segment(raw, what)
    except InvalidTokenError:
        raise _bad("dpop_proof_malformed", f"{what}: expected canonical base64url") from None


def _object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        return json_object(raw, what)
    except InvalidTokenError:
        raise _bad("dpop_proof_malformed", f"{what}: expected a JSON object") from None


def _header(raw: bytes, algorithms: Iterable[str]) -> ProofHeader:
    header = _object(_decoded(raw, "DPoP header"), "DPoP header")
    typ = header.get("typ")
    if type(typ) is not str or typ.lower() != "dpop+jwt":
        raise _bad("dpop_typ_invalid", "DPoP proof typ: expected 'dpop+jwt', found "
                   + ("none" if typ is None else f"another {type(typ).__name__}"))
    alg = header.get("alg")
    if type(alg) is not str or alg not in algorithms:
        shown = repr(alg) if type(alg) is str and len(alg) <= 10 else "another value"
        raise _bad("dpop_alg_not_allowed", f"DPoP proof alg: expected one of "
                   f"{sorted(algorithms)}, found {shown}")
    if "crit" in header:
        raise _bad("dpop_proof_malformed", "DPoP proof header: expected no crit, found one")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _bad("dpop_jwk_missing", "DPoP proof jwk: expected a JSON object, found "
                   f"{'none' if jwk is None else type(jwk).__name__}")
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise _bad("dpop_jwk_private", "DPoP proof jwk: expected a public key, found private "
                   "key members")
    algorithm = ALGORITHMS[alg]
    if jwk.get("kty") != algorithm.kty or (algorithm.curve and jwk.get("crv") != algorithm.curve):
        raise _bad("dpop_jwk_invalid", f"DPoP proof jwk: expected a {algorithm.kty} key for "
                   f"{alg}, found another kind")
    try:
        key = key_from_jwk(jwk)
        jkt = thumbprint(jwk)
    except (ValueError, KeyError, TypeError):
        raise _bad("dpop_jwk_invalid", "DPoP proof jwk: expected a valid public JWK") from None
    return ProofHeader(algorithm, key, jkt)  # type: ignore[arg-type]


class ProofVerifier:
    """Verifies proofs for one :class:`DPoPSettings` (holds the header cache)."""

    def __init__(self, settings: DPoPSettings) -> None:
        self.settings = settings
        self._algorithms = frozenset(settings.algorithms)
        self._headers: dict[bytes, ProofHeader] = {}
        self._ath: dict[str, str] = {}

    def verify(self, proof: str, *, method: str, url: str,
               access_token: str | None) -> VerifiedProof:
        """Check ``proof`` for a request ``method url`` carrying ``access_token`` (``None``
        at a token endpoint); :class:`VerifiedProof` or :class:`InvalidDPoPProofError`."""
        ath = None
        if access_token is not None:
            ath = self._ath.get(access_token)
            if ath is None:  # a token's hash is remembered: one SHA-256 per token, not request
                ath = access_token_hash(access_token)
                if len(self._ath) >= _HEADER_CACHE_SIZE:
                    self._ath.clear()
                self._ath[access_token] = ath
        return verify_proof(proof, method=method, url=url, access_token=access_token,
                            settings=self.settings, algorithms=self._algorithms,
                            headers=self._headers, ath=ath)


def verify_proof(
    proof: str, *, method: str, url: str, access_token: str | None, settings: DPoPSettings,
    algorithms: frozenset[str] | None = None, headers: dict[bytes, ProofHeader] | None = None,
    ath: str | None = None,
) -> VerifiedProof:
    """Verify one DPoP proof (see the module docstring for the checks and codes).

    ``headers`` is an optional cache of validated headers by their base64url bytes; ``ath``
    the access token's hash when the caller has it already.
    """
    if type(proof) is not str or len(proof) > MAX_PROOF_BYTES:
        raise _bad("dpop_proof_malformed", f"DPoP proof: expected a string of at most "
                   f"{MAX_PROOF_BYTES} characters")
    try:
        raw = proof.encode("ascii")
    except UnicodeEncodeError:
        raise _bad("dpop_proof_malformed", "DPoP proof: expected ASCII only") from None
    parts = raw.split(b".")
    if len(parts) != 3:
        raise _bad("dpop_proof_malformed", f"DPoP proof: expected 3 dot-separated segments, "
                   f"found {len(parts)}")
    h, p, s = parts
    info = headers.get(h) if headers is not None else None
    if info is None:
        info = _header(h, algorithms if algorithms is not None else frozenset(settings.algorithms))
        if headers is not None:
            if len(headers) >= _HEADER_CACHE_SIZE:
                headers.clear()
            headers[h] = info
    payload_raw = _decoded(p, "DPoP payload")
    signature = _decoded(s, "DPoP signature")
    if not info.check(raw[: len(h) + len(p) + 1], signature):
        raise _bad("dpop_signature_invalid", "DPoP proof signature: expected a valid "
                   f"{info.algorithm.name} signature by the proof's jwk, found an invalid one")
    if access_token is not None and ath is None:
        ath = access_token_hash(access_token)
    return _claims(_object(payload_raw, "DPoP payload"), info, method, url, ath, settings)


def _claims(payload: dict[str, Any], info: ProofHeader, method: str, url: str,
            expected_ath: str | None, settings: DPoPSettings) -> VerifiedProof:
    jti, htm, htu, iat = (payload.get("jti"), payload.get("htm"), payload.get("htu"),
                          payload.get("iat"))
    if (type(jti) is not str or not jti or len(jti) > 256 or type(htm) is not str
            or type(htu) is not str or isinstance(iat, bool)
            or not isinstance(iat, int | float)):
        raise _bad("dpop_claims_invalid", "DPoP proof claims: expected jti, htm, htu (strings) "
                   "and iat (a number), found one missing or of another type")
    if htm != method:
        raise _bad("dpop_htm_mismatch", f"DPoP proof htm: expected {method!r}, found another "
                   "method")
    if htu != url:
        try:
            same = normalise_htu(htu) == normalise_htu(url)
        except ValueError:
            same = False
        if not same:
            raise _bad("dpop_htu_mismatch", "DPoP proof htu: expected this request's URL, "
                       "found another")
    now = settings.clock()
    if iat < now - settings.max_age:
        raise _bad("dpop_iat_stale", f"DPoP proof iat: expected within {settings.max_age:g} s "
                   "of now, found older")
    if iat > now + settings.leeway:
        raise _bad("dpop_iat_future", f"DPoP proof iat: expected at most {settings.leeway:g} s "
                   "ahead, found later")
    if expected_ath is not None:
        ath = payload.get("ath")
        if type(ath) is not str or not hmac.compare_digest(ath, expected_ath):
            raise _bad("dpop_ath_mismatch", "DPoP proof ath: expected the hash of the access "
                       "token sent, found " + ("none" if ath is None else "another value"))
    nonces = settings.nonces
    if nonces is not None and not nonces.valid(payload.get("nonce")):
        raise UseDPoPNonceError("DPoP proof nonce: expected the server's current nonce, found "
                                + ("none" if "nonce" not in payload else "another"),
                                nonce=nonces.current())
    replay = settings.replay
    if iat <= replay.floor:
        raise _bad("dpop_iat_stale", "DPoP proof iat: expected a proof newer than the replay "
                   "cache remembers, found an older one")
    if not replay.add(f"{info.jkt}:{jti}", float(iat),
                               iat + settings.max_age + settings.leeway, now):
        raise _bad("dpop_replayed", "DPoP proof jti: expected a proof used once, found one "
                   "seen before")
    return VerifiedProof(info.jkt, jti, float(iat))
