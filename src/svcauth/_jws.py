"""Compact JWS primitives shared by the caller (client assertions), the receiver (verify)
and the development identity provider (issuing tokens).

Only asymmetric algorithms are supported: a service-to-service verifier has no business
with shared secrets, and refusing HMAC outright closes the RSA-public-key-as-HMAC-secret
attack by construction. The signature math is `cryptography`'s; this module only maps
JOSE names and encodings onto it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# base64url -> standard alphabet; "+", "/" and "=" become "*", which strict decoding refuses.
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING = (b"", b"", b"==", b"=")
# The last character of a 2- or 3-character final quantum may not carry set bits beyond the
# data (RFC 4648 §3.5): with 2 characters its low 4 bits must be zero, with 3 its low 2.
_LAST_OK = (
    None,
    None,
    frozenset(b"AQgw"),
    frozenset(b"AEIMQUYcgkosw048"),
)


def b64url_decode_bytes(raw: bytes) -> bytes:
    """Strict base64url decode of ASCII bytes; ``binascii.Error``/``ValueError`` when not canonical.

    The fast path the verifier uses: one ``translate``, one strict C decode, one lookup of the
    last character for the trailing bits.
    """
    rem = len(raw) % 4
    if rem:
        last_ok = _LAST_OK[rem]
        if last_ok is None or raw[-1] not in last_ok:
            raise ValueError("not canonical base64url")
    return binascii.a2b_base64(raw.translate(_TO_STANDARD) + _PADDING[rem], strict_mode=True)


def b64url_decode(data: str | bytes) -> bytes:
    """Strict base64url decode: no padding, alphabet only, no non-zero trailing bits.

    Raises ``ValueError`` on anything but the one canonical encoding of some byte string,
    so that a token has exactly one spelling.
    """
    try:
        raw = data.encode("ascii") if isinstance(data, str) else bytes(data)
        return b64url_decode_bytes(raw)
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise ValueError("not canonical base64url") from exc


@dataclass(frozen=True, slots=True)
class Algorithm:
    """A JWS algorithm: which key type it needs and how to sign and verify with it."""

    name: str
    kty: str
    sign: Callable[[Any, bytes], bytes]
    verify: Callable[[Any, bytes, bytes], bool]
    curve: str | None = None


def _rsa_pkcs1(h: type[hashes.HashAlgorithm]) -> tuple[Callable[..., bytes], Callable[..., bool]]:
    def sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
        return key.sign(data, padding.PKCS1v15(), h())

    def verify(key: rsa.RSAPublicKey, data: bytes, sig: bytes) -> bool:
        try:
            key.verify(sig, data, padding.PKCS1v15(), h())
        except InvalidSignature:
            return False
        return True

    return sign, verify


def _rsa_pss(h: type[hashes.HashAlgorithm]) -> tuple[Callable[..., bytes], Callable[..., bool]]:
    def pss() -> padding.PSS:
        return padding.PSS(mgf=padding.MGF1(h()), salt_length=padding.PSS.DIGEST_LENGTH)

    def sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
        return key.sign(data, pss(), h())

    def verify(key: rsa.RSAPublicKey, data: bytes, sig: bytes) -> bool:
        try:
            key.verify(sig, data, pss(), h())
        except InvalidSignature:
            return False
        return True

    return sign, verify


def _ecdsa(
    h: type[hashes.HashAlgorithm], size: int
) -> tuple[Callable[..., bytes], Callable[..., bool]]:
    def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def verify(key: ec.EllipticCurvePublicKey, data: bytes, sig: bytes) -> bool:
        return ecdsa_jose_verify(key.verify, ec.ECDSA(h()), size, data, sig)

    return sign, verify


def ecdsa_jose_verify(verify: Callable[[bytes, bytes, ec.ECDSA], None], scheme: ec.ECDSA,
                      size: int, data: bytes, sig: bytes) -> bool:
    """Check a JOSE ECDSA signature with a key's ``verify``: fixed-width ``r || s`` of
    ``2 * size`` bytes (RFC 7518 §3.4), neither zero; anything else is invalid."""
    if len(sig) != 2 * size:
        return False
    r = int.from_bytes(sig[:size], "big")
    s = int.from_bytes(sig[size:], "big")
    if r == 0 or s == 0:
        return False
    try:
        verify(encode_dss_signature(r, s), data, scheme)
    except InvalidSignature:
        return False
    return True


def _eddsa() -> tuple[Callable[..., bytes], Callable[..., bool]]:
    def sign(key: ed25519.Ed25519PrivateKey, data: bytes) -> bytes:
        return key.sign(data)

    def verify(key: ed25519.Ed25519PublicKey, data: bytes, sig: bytes) -> bool:
        try:
            key.verify(sig, data)
        except InvalidSignature:
            return False
        return True

    return sign, verify


def _table() -> dict[str, Algorithm]:
    out: dict[str, Algorithm] = {}
    for bits, h in ((256, hashes.SHA256), (384, hashes.SHA384), (512, hashes.SHA512)):
        out[f"RS{bits}"] = Algorithm(f"RS{bits}", "RSA", *_rsa_pkcs1(h))
        out[f"PS{bits}"] = Algorithm(f"PS{bits}", "RSA", *_rsa_pss(h))
    for name, h, size, crv in (
        ("ES256", hashes.SHA256, 32, "P-256"),
        ("ES384", hashes.SHA384, 48, "P-384"),
        ("ES512", hashes.SHA512, 66, "P-521"),
    ):
        out[name] = Algorithm(name, "EC", *_ecdsa(h, size), curve=crv)
    out["EdDSA"] = Algorithm("EdDSA", "OKP", *_eddsa(), curve="Ed25519")
    return out


ALGORITHMS: Mapping[str, Algorithm] = _table()
"""The supported JWS algorithms by JOSE name. No ``none``, no HMAC."""


def _json_segment(obj: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def sign_compact(
    payload: Mapping[str, Any], key: PrivateKey, alg: str, headers: Mapping[str, Any] | None = None
) -> str:
    """Sign ``payload`` as a compact JWS. ``headers`` are added to ``{"alg": alg}``."""
    algorithm = ALGORITHMS.get(alg)
    if algorithm is None:
        raise ValueError(f"unsupported JWS algorithm: expected one of {sorted(ALGORITHMS)}, "
                         f"found {alg!r}")
    header = {"alg": alg, **(headers or {})}
    signing_input = f"{_json_segment(header)}.{_json_segment(payload)}"
    signature = algorithm.sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def default_alg(key: PrivateKey | PublicKey) -> str:
    """The usual JWS algorithm for a key: RS256, ES256/384/512 by curve, or EdDSA."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[key.curve.name]
    return "EdDSA"
