"""DPoP on the caller side (RFC 9449): one key per source, one proof per request.

::

    key = DPoPKey.generate()                      # ES256, or DPoPKey.from_file("dpop.pem")
    config = ClientConfig(..., dpop=key)          # token requests carry a proof, tokens are
                                                  # bound (token_type DPoP, cnf.jkt)

A proof is a JWS with header ``{"typ": "dpop+jwt", "alg", "jwk"}`` (the public key only) and
claims ``htm``, ``htu`` (no query, no fragment), ``jti``, ``iat``, plus ``ath`` (hash of the
access token) on resource requests and ``nonce`` once a server asked for one. The header is
encoded once per key and the claims that stay the same (``htm``, ``htu``, ``ath``, ``nonce``
and a random ``jti`` prefix) once per (method, URL, token, nonce): a proof costs encoding a
counter and ``iat`` (a few bytes) and one signature.

Server nonces are remembered per origin (``scheme://host:port``): the token endpoint's
``use_dpop_nonce`` and a resource server's ``WWW-Authenticate: DPoP error="use_dpop_nonce"``
both hand one over in ``DPoP-Nonce``, and the next proof to that origin carries it.
"""

from __future__ import annotations

import binascii
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .._errors import ConfigurationError
from .._jwk import load_private_key, public_jwk
from .._jwk import thumbprint as _thumbprint
from .._jws import ALGORITHMS, PrivateKey, b64url_encode, default_alg
from ._challenge import bearer_error

__all__ = ["DPoPKey", "access_token_hash", "nonce_to_retry"]

_B64 = b64url_encode
_HTU_CACHE_SIZE = 256


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url SHA-256 of the access token (RFC 9449 §4.2)."""
    import hashlib

    return _B64(hashlib.sha256(access_token.encode("ascii")).digest())


def _origin_and_htu(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    return origin, f"{origin}{parts.path or '/'}"


def nonce_to_retry(status: int, headers: Mapping[str, str]) -> str | None:
    """The nonce to retry with when a resource server answered 401 ``WWW-Authenticate:
    DPoP error="use_dpop_nonce"`` with a ``DPoP-Nonce`` header, else ``None``.

    ``headers`` is looked up case-insensitively when it is an ``httpx``/``requests``
    header mapping (both are).
    """
    if status != 401:
        return None
    nonce = headers.get("DPoP-Nonce") or headers.get("dpop-nonce")
    if not nonce:
        return None
    challenge = headers.get("WWW-Authenticate") or headers.get("www-authenticate")
    return nonce if bearer_error(challenge) == "use_dpop_nonce" else None


class DPoPKey:
    """A DPoP key pair and the proofs it signs; safe for concurrent use.

    ``key`` is an EC (P-256/384/521), RSA or Ed25519 private key; ``alg`` defaults to the
    key's usual algorithm (ES256 for P-256). ``clock`` gives ``iat`` (wall-clock seconds).
    """

    def __init__(self, key: PrivateKey, alg: str | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                          | ed25519.Ed25519PrivateKey):
            raise ConfigurationError(f"DPoPKey: expected an EC, RSA or Ed25519 private key, "
                                     f"found {type(key).__name__}")
        self.alg = alg or default_alg(key)
        """The proof's JWS algorithm."""
        algorithm = ALGORITHMS.get(self.alg)
        if algorithm is None or not isinstance(key, _KEY_TYPES[algorithm.kty]):
            raise ConfigurationError(f"DPoPKey alg: expected an algorithm for this key, found "
                                     f"{self.alg!r}")
        self._key = key
        self._sign = _fast_signer(key, self.alg) or (lambda data: algorithm.sign(key, data))
        jwk = public_jwk(key)
        jwk.pop("kid", None)
        self.jwk: dict[str, str] = jwk
        """The public JWK sent in every proof (no private member, no ``kid``)."""
        self.jkt = _thumbprint(jwk)
        """RFC 7638 thumbprint of the key: the ``cnf.jkt`` of tokens bound to it."""
        header = {"typ": "dpop+jwt", "alg": self.alg, "jwk": jwk}
        self._header = _b64(json.dumps(header, separators=(",", ":")).encode("ascii")) + b"."
        # jti: a random prefix and a per-key counter — unique without a random draw per proof.
        self._counter = itertools.count()
        self.clock = clock
        """Wall-clock seconds for ``iat``."""
        self._nonces: dict[str, str] = {}
        self._htu: dict[str, tuple[str, str]] = {}
        self._segments: dict[tuple[str, str, str | None, str | None], bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def generate(cls, alg: str = "ES256", *, clock: Callable[[], float] = time.time) -> DPoPKey:
        """A fresh key for ``alg`` (ES256 by default; ES384, ES512, EdDSA, RS256, PS256)."""
        key: PrivateKey
        if alg in ("ES256", "ES384", "ES512"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(),
                     "ES512": ec.SECP521R1()}[alg]
            key = ec.generate_private_key(curve)
        elif alg == "EdDSA":
            key = ed25519.Ed25519PrivateKey.generate()
        elif alg in ALGORITHMS and ALGORITHMS[alg].kty == "RSA":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ConfigurationError(f"DPoPKey.generate: expected an asymmetric JWS algorithm, "
                                     f"found {alg!r}")
        return cls(key, alg, clock=clock)

    @classmethod
    def from_file(cls, path: str | Path, alg: str | None = None, *,
                  clock: Callable[[], float] = time.time) -> DPoPKey:
        """The key in a PEM or private-JWK file."""
        try:
            key, _ = load_private_key(path)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"DPoP key file {str(path)!r}: expected a PEM or private "
                                     f"JWK, found an unreadable one ({type(exc).__name__})") from None
        return cls(key, alg, clock=clock)

    def __repr__(self) -> str:
        return f"DPoPKey(alg={self.alg!r}, jkt={self.jkt!r})"

    def _split(self, url: str) -> tuple[str, str]:
        """(origin, JSON-quoted htu) of ``url``, remembered for the last few URLs."""
        found = self._htu.get(url)
        if found is None:
            origin, htu = _origin_and_htu(url)
            found = (origin, json.dumps(htu))
            if len(self._htu) >= _HTU_CACHE_SIZE:
                self._htu.clear()
            self._htu[url] = found
        return found

    def remember_nonce(self, url: str, nonce: str) -> None:
        """Use ``nonce`` in the next proofs to ``url``'s origin."""
        origin = self._split(url)[0]
        with self._lock:
            self._nonces[origin] = nonce

    def nonce_for(self, url: str) -> str | None:
        """The nonce remembered for ``url``'s origin, if any."""
        return self._nonces.get(self._split(url)[0])

    def proof(self, method: str, url: str, *, ath: str | None = None) -> str:
        """A fresh proof for ``method url`` (``ath``: the access token's hash as
        :func:`access_token_hash` gives it, on resource requests)."""
        origin, htu = self._split(url)
        nonce = self._nonces.get(origin)
        key = (method, htu, ath, nonce)
        static = self._segments.get(key)
        if static is None:
            static = self._segment(key)
        # Only the counter and iat change from proof to proof: their few bytes are encoded,
        # appended to the encoded static segment (a whole number of base64 groups).
        signing_input = static + _b64(b'%x","iat":%d}' % (next(self._counter), self.clock()))
        return (signing_input + b"." + _b64(self._sign(signing_input))).decode("ascii")

    def _segment(self, key: tuple[str, str, str | None, str | None]) -> bytes:
        """The header and the claims that stay the same for (method, htu, ath, nonce),
        encoded once: ``{"htm","htu"[,"ath"][,"nonce"],"jti":"<random>`` with a random jti
        prefix of 12 to 14 characters, its length picked so that the claims so far are a
        multiple of 3 bytes long (their base64 then ends on a group boundary, and the
        changing rest can be encoded on its own and appended)."""
        method, htu, ath, nonce = key
        # Written by hand: htm, htu and nonce are JSON-quoted, ath is base64url (nothing to
        # escape), so this is exactly json.dumps' output at a fraction of its cost.
        head = f'{{"htm":{_METHODS.get(method) or _quoted(method)},"htu":{htu}'
        if ath is not None:
            head += f',"ath":"{ath}"'
        if nonce is not None:
            head += f',"nonce":{json.dumps(nonce)}'
        head += ',"jti":"'
        size = len(head.encode("utf-8"))
        prefix = _B64(os.urandom(12))[: 12 + (-(size + 12)) % 3]
        segment = self._header + _b64((head + prefix).encode("utf-8"))
        if len(self._segments) >= _HTU_CACHE_SIZE:
            self._segments.clear()
        self._segments[key] = segment
        return segment


_B64_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_METHODS = {m: f'"{m}"' for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")}


def _quoted(value: str) -> str:
    """``value`` as a JSON string (quoted directly when it needs no escaping)."""
    return f'"{value}"' if _B64_SAFE.issuperset(value) else json.dumps(value)


def _b64(data: bytes) -> bytes:
    """base64url without padding, as bytes (one C call and a translate)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _fast_signer(key: PrivateKey, alg: str) -> Callable[[bytes], bytes] | None:
    """An ES* signer with its ECDSA object built once (r || s as JOSE wants)."""
    sizes = {"ES256": (hashes.SHA256, 32), "ES384": (hashes.SHA384, 48),
             "ES512": (hashes.SHA512, 66)}
    if alg not in sizes or not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    digest, size = sizes[alg]
    scheme = ec.ECDSA(digest())
    sign = key.sign

    def signer(data: bytes) -> bytes:
        der = sign(data, scheme)
        if der[1] < 0x80:  # short-form DER: SEQUENCE { INTEGER r, INTEGER s } sliced directly
            end_r = 4 + der[3]
            r, s = der[4:end_r], der[end_r + 2:]
            return r[-size:].rjust(size, b"\0") + s[-size:].rjust(size, b"\0")
        r_int, s_int = decode_dss_signature(der)
        return r_int.to_bytes(size, "big") + s_int.to_bytes(size, "big")

    return signer


_KEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "EC": ec.EllipticCurvePrivateKey, "RSA": rsa.RSAPrivateKey,
    "OKP": ed25519.Ed25519PrivateKey,
}
