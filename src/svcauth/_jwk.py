"""JSON Web Keys (RFC 7517/7518) to and from `cryptography` key objects, and RFC 7638
thumbprints. Loading private keys from PEM or JWK files for ``private_key_jwt``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ._jws import PrivateKey, PublicKey, b64url_decode, b64url_encode

_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _int(n: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (n.bit_length() + 7) // 8)
    return b64url_encode(n.to_bytes(length, "big"))


def _uint(jwk: Mapping[str, Any], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"JWK member {name!r}: expected a base64url string, found "
                         f"{type(value).__name__}")
    return int.from_bytes(b64url_decode(value), "big")


def public_jwk(
    key: PublicKey | PrivateKey, *, kid: str | None = None, alg: str | None = None,
    use: str | None = None,
) -> dict[str, str]:
    """The public JWK of ``key`` (a private key contributes only its public half)."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        key = key.public_key()
    jwk: dict[str, str]
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        jwk = {"kty": "RSA", "n": _int(numbers.n), "e": _int(numbers.e)}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        crv = _CURVE_NAMES[key.curve.name]
        size = _CURVES[crv][1]
        pn = key.public_numbers()
        jwk = {"kty": "EC", "crv": crv, "x": _int(pn.x, size), "y": _int(pn.y, size)}
    elif isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    else:  # pragma: no cover - the type union is closed
        raise TypeError(f"unsupported key type {type(key).__name__}")
    if use:
        jwk["use"] = use
    if alg:
        jwk["alg"] = alg
    jwk["kid"] = kid if kid is not None else thumbprint(jwk)
    return jwk


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}
    members = required.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError(f"JWK kty: expected RSA, EC or OKP, found {jwk.get('kty')!r}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())


def key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey | PrivateKey:
    """A `cryptography` key from a JWK; private when the JWK holds ``d``.

    Raises ``ValueError`` with what was expected and found for a malformed JWK.
    """
    kty = jwk.get("kty")
    private = "d" in jwk
    if kty == "RSA":
        pub = rsa.RSAPublicNumbers(_uint(jwk, "e"), _uint(jwk, "n"))
        if not private:
            return pub.public_key()
        p, q, d = _uint(jwk, "p"), _uint(jwk, "q"), _uint(jwk, "d")
        priv = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), pub
        )
        return priv.private_key()
    if kty == "EC":
        crv = jwk.get("crv")
        if crv not in _CURVES:
            raise ValueError(f"JWK crv: expected one of {sorted(_CURVES)}, found {crv!r}")
        curve = _CURVES[str(crv)][0]
        ec_pub = ec.EllipticCurvePublicNumbers(_uint(jwk, "x"), _uint(jwk, "y"), curve)
        if not private:
            return ec_pub.public_key()
        return ec.EllipticCurvePrivateNumbers(_uint(jwk, "d"), ec_pub).private_key()
    if kty == "OKP":
        if jwk.get("crv") != "Ed25519":
            raise ValueError(f"JWK crv: expected 'Ed25519', found {jwk.get('crv')!r}")
        if private:
            return ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(str(jwk["d"])))
        return ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(str(jwk.get("x", ""))))
    raise ValueError(f"JWK kty: expected RSA, EC or OKP, found {kty!r}")


def load_private_key(source: str | Path | bytes) -> tuple[PrivateKey, str | None]:
    """Load a private signing key from a PEM file, a JWK file, or their bytes.

    Returns the key and the ``kid`` the JWK named (``None`` for PEM).
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    text = data.strip()
    if text.startswith(b"{"):
        jwk = json.loads(text)
        if not isinstance(jwk, dict) or "d" not in jwk:
            raise ValueError("JWK file: expected a private JWK object (with 'd')")
        key = key_from_jwk(jwk)
        kid = jwk.get("kid")
        return key, (str(kid) if kid is not None else None)  # type: ignore[return-value]
    loaded = serialization.load_pem_private_key(data, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                      | ed25519.Ed25519PrivateKey):
        raise ValueError(f"PEM key: expected RSA, EC or Ed25519, found {type(loaded).__name__}")
    return loaded, None
