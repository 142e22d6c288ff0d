"""Pure key logic shared by every key set: which JWKs may verify which JWS algorithm, a
ready-to-call verify function per (key, alg), and the index a key set looks keys up in.

A JWK is usable for a token's ``alg`` only when all of these hold:

- ``use`` is ``"sig"`` or absent, and ``key_ops`` (when present) contains ``"verify"``;
- ``kty`` (and ``crv``) fit the algorithm: RSA for RS*/PS*, EC P-256/384/521 for
  ES256/384/512, OKP Ed25519 for EdDSA;
- the JWK's own ``alg``, when present, equals the token's;
- RSA moduli have at least 2048 bits;
- it holds no private material.

Keys failing a rule are skipped with a reason (logged by the key set, never raised), so one
odd key in a provider's JWKS does not take the others down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .._jwk import key_from_jwk
from .._jws import PublicKey

MIN_RSA_BITS = 2048

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512,
}
_EC_ALGS = {"ES256": ("secp256r1", 32), "ES384": ("secp384r1", 48), "ES512": ("secp521r1", 66)}
_EC_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    # 2^521 - ... : "01", 65 "F"s, then the low 256 bits.
    "secp521r1": int(
        "01" + "F" * 65 + "A51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16
    ),
}
RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
SUPPORTED_ALGS = frozenset((*RSA_ALGS, *_EC_ALGS, "EdDSA"))

VerifyFn = Callable[[bytes, bytes], bool]
"""``verify(signature, signing_input) -> bool``; never raises for a bad signature."""


def _rsa_verifier(key: rsa.RSAPublicKey, alg: str) -> VerifyFn:
    h = _HASHES[alg[2:]]()
    pad: padding.AsymmetricPadding
    if alg.startswith("PS"):
        pad = padding.PSS(mgf=padding.MGF1(_HASHES[alg[2:]]()), salt_length=h.digest_size)
    else:
        pad = padding.PKCS1v15()
    size = (key.key_size + 7) // 8
    raw_verify = key.verify

    def verify(sig: bytes, data: bytes) -> bool:
        if len(sig) != size:
            return False
        try:
            raw_verify(sig, data, pad, h)
        except Exception:  # InvalidSignature, or anything the backend dislikes in the input
            return False
        return True

    return verify


def _ec_verifier(key: ec.EllipticCurvePublicKey, alg: str) -> VerifyFn:
    size = _EC_ALGS[alg][1]
    order = _EC_ORDERS[key.curve.name]
    scheme = ec.ECDSA(_HASHES[alg[2:]]())
    raw_verify = key.verify
    from_bytes = int.from_bytes

    def verify(sig: bytes, data: bytes) -> bool:
        # JOSE ECDSA signatures are fixed-width r || s (RFC 7518 §3.4); r and s in [1, n-1].
        if len(sig) != 2 * size:
            return False
        r = from_bytes(sig[:size], "big")
        s = from_bytes(sig[size:], "big")
        if not (0 < r < order and 0 < s < order):
            return False
        try:
            raw_verify(encode_dss_signature(r, s), data, scheme)
        except Exception:
            return False
        return True

    return verify


def _ed_verifier(key: ed25519.Ed25519PublicKey) -> VerifyFn:
    raw_verify = key.verify

    def verify(sig: bytes, data: bytes) -> bool:
        if len(sig) != 64:
            return False
        try:
            raw_verify(sig, data)
        except Exception:
            return False
        return True

    return verify


def algs_for_key(key: PublicKey) -> tuple[str, ...]:
    """Every supported algorithm ``key``'s type and curve fit."""
    if isinstance(key, rsa.RSAPublicKey):
        return RSA_ALGS
    if isinstance(key, ec.EllipticCurvePublicKey):
        return tuple(a for a, (curve, _) in _EC_ALGS.items() if curve == key.curve.name)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ("EdDSA",)
    return ()


def make_verify(key: PublicKey, alg: str) -> VerifyFn:
    """A verify function for ``alg`` with ``key``; ``ValueError`` when they do not fit."""
    if alg not in algs_for_key(key):
        raise ValueError(f"key type {type(key).__name__} does not fit alg {alg}")
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"RSA key of {key.key_size} bits (at least {MIN_RSA_BITS} required)")
        return _rsa_verifier(key, alg)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _ec_verifier(key, alg)
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return _ed_verifier(key)


class KeyEntry:
    """One usable (key, algorithm) pair of a key set.

    ``alive`` turns false when the key leaves the key set; the verified-token cache and the
    verifier's header cache drop whatever was verified with a dead entry.
    """

    __slots__ = ("alg", "alive", "fingerprint", "issuer", "key", "kid", "verify")

    def __init__(
        self, *, kid: str | None, alg: str, key: PublicKey, issuer: str | None, fingerprint: object
    ) -> None:
        self.kid = kid
        self.alg = alg
        self.key = key
        self.issuer = issuer
        self.fingerprint = fingerprint
        self.alive = True
        self.verify: VerifyFn = make_verify(key, alg)

    def __repr__(self) -> str:
        return f"KeyEntry(kid={self.kid!r}, alg={self.alg!r}, alive={self.alive})"


def _fingerprint(jwk: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(jwk.get(m) for m in ("kty", "crv", "n", "e", "x", "y"))


def jwk_algs(jwk: Any) -> tuple[PublicKey | None, tuple[str, ...], str | None]:
    """The public key and the algorithms a JWK may verify, or a reason it is skipped."""
    if not isinstance(jwk, Mapping):
        return None, (), "not a JSON object"
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None, (), "use is not 'sig'"
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None, (), "key_ops lacks 'verify'"
    if any(m in jwk for m in ("d", "p", "q", "dp", "dq", "qi", "k")):
        return None, (), "holds private or symmetric key material"
    try:
        key = key_from_jwk(jwk)
    except Exception as exc:  # malformed numbers, unknown kty/crv: skip the key
        return None, (), f"unusable ({type(exc).__name__})"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return None, (), f"RSA key of {key.key_size} bits (at least {MIN_RSA_BITS} required)"
    algs = algs_for_key(key)  # type: ignore[arg-type]
    declared = jwk.get("alg")
    if declared is not None:
        if declared not in algs:
            return None, (), "its alg does not fit its kty/crv"
        algs = (declared,)
    return key, algs, None  # type: ignore[return-value]


class KeyIndex:
    """An immutable lookup of usable keys by (kid, alg), built from one JWKS or key list."""

    __slots__ = ("by_alg", "by_kid_alg", "entries", "kids", "skipped")

    def __init__(self, entries: Iterable[KeyEntry], skipped: Iterable[str] = ()) -> None:
        self.entries = tuple(entries)
        self.skipped = tuple(skipped)
        by_kid_alg: dict[tuple[str | None, str], KeyEntry] = {}
        ambiguous: set[tuple[str | None, str]] = set()
        by_alg: dict[str, list[KeyEntry]] = {}
        for e in self.entries:
            slot = (e.kid, e.alg)
            if slot in by_kid_alg:
                ambiguous.add(slot)
            by_kid_alg[slot] = e
            by_alg.setdefault(e.alg, []).append(e)
        # Two different keys answering to one kid and alg: neither is trusted.
        for slot in ambiguous:
            del by_kid_alg[slot]
        self.by_kid_alg = by_kid_alg
        self.by_alg = {alg: tuple(es) for alg, es in by_alg.items()}
        self.kids = frozenset(e.kid for e in self.entries)

    def lookup(self, kid: str | None, alg: str) -> KeyEntry | None:
        """The entry for ``kid`` and ``alg``; without a kid, the only key fitting ``alg``."""
        if kid is None:
            candidates = self.by_alg.get(alg, ())
            return candidates[0] if len(candidates) == 1 else None
        return self.by_kid_alg.get((kid, alg))

    def __len__(self) -> int:
        return len(self.entries)


def index_from_jwks(
    document: Any, *, issuer: str | None, previous: KeyIndex | None = None
) -> KeyIndex:
    """Build a :class:`KeyIndex` from a JWKS document (``{"keys": [...]}``) or a JWK list.

    Entries whose key did not change are carried over from ``previous`` (so what was verified
    with them stays cached); entries of ``previous`` that are gone are marked dead.
    Raises ``ValueError`` when the document is not a JWKS.
    """
    if isinstance(document, Mapping):
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise ValueError("JWKS: expected an object with a 'keys' array")
    elif isinstance(document, list):
        keys = document
    else:
        raise ValueError(f"JWKS: expected a JSON object, found {type(document).__name__}")
    old = {(e.kid, e.alg, e.fingerprint): e for e in previous.entries} if previous else {}
    entries: list[KeyEntry] = []
    skipped: list[str] = []
    for position, jwk in enumerate(keys):
        key, algs, reason = jwk_algs(jwk)
        kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
        if reason is None and kid is not None and not isinstance(kid, str):
            reason = "kid is not a string"
        if reason is not None or key is None:
            skipped.append(f"key #{position}: {reason}")
            continue
        fp = _fingerprint(jwk)
        for alg in algs:
            entry = old.pop((kid, alg, fp), None)
            entries.append(entry or KeyEntry(kid=kid, alg=alg, key=key, issuer=issuer, fingerprint=fp))
    for gone in old.values():
        gone.alive = False
    return KeyIndex(entries, skipped)


def index_from_keys(keys: Mapping[str, PublicKey], *, issuer: str | None) -> KeyIndex:
    """A :class:`KeyIndex` from ``{kid: public key}``; every fitting algorithm is allowed."""
    entries: list[KeyEntry] = []
    skipped: list[str] = []
    for kid, key in keys.items():
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            skipped.append(f"key {kid!r}: RSA key of {key.key_size} bits")
            continue
        algs = algs_for_key(key)
        if not algs:
            skipped.append(f"key {kid!r}: unsupported key type {type(key).__name__}")
        for alg in algs:
            entries.append(KeyEntry(kid=kid, alg=alg, key=key, issuer=issuer, fingerprint=id(key)))
    return KeyIndex(entries, skipped)
