"""The realm's keys: RS256 signing keys (one active, older ones passive until retired),
one RSA-OAEP encryption key, and an HMAC key for refresh tokens, as Keycloak's default
key providers (``rsa-generated``, ``rsa-enc-generated``, ``hmac-generated``) hold them.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .._jwk import public_jwk, thumbprint
from .._jws import b64url_decode, b64url_encode, sign_compact


@dataclass(frozen=True)
class RealmKey:
    """One RSA key with its self-signed certificate (Keycloak publishes both)."""

    kid: str
    """Key id: the RFC 7638 thumbprint."""
    use: str
    """``sig`` or ``enc``."""
    alg: str
    """``RS256`` or ``RSA-OAEP``."""
    private: rsa.RSAPrivateKey = field(repr=False)
    """The private key."""
    cert_der: bytes = field(repr=False)
    """Self-signed certificate, DER."""

    def jwk(self) -> dict[str, Any]:
        """The public JWK as Keycloak's certs endpoint lists it (with ``x5c``/``x5t``)."""
        jwk: dict[str, Any] = public_jwk(self.private, kid=self.kid, alg=self.alg, use=self.use)
        jwk["x5c"] = [base64.b64encode(self.cert_der).decode("ascii")]
        jwk["x5t"] = b64url_encode(hashlib.sha1(self.cert_der).digest())  # noqa: S324 - JOSE x5t
        jwk["x5t#S256"] = b64url_encode(hashlib.sha256(self.cert_der).digest())
        return jwk


def _new_key(realm: str, use: str, alg: str, bits: int) -> RealmKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, realm)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(private, hashes.SHA256()))
    kid = thumbprint(public_jwk(private, kid=""))
    return RealmKey(kid=kid, use=use, alg=alg, private=private,
                    cert_der=cert.public_bytes(serialization.Encoding.DER))


class KeyRing:
    """The realm's key set. Thread-safe; ``rotate`` and ``retire`` change it at run time."""

    def __init__(self, realm: str, *, bits: int = 2048) -> None:
        self._realm = realm
        self._bits = bits
        self._lock = threading.Lock()
        self._signing: list[RealmKey] = [_new_key(realm, "sig", "RS256", bits)]
        self._enc = _new_key(realm, "enc", "RSA-OAEP", bits)
        self._hmac_kid = str(uuid.uuid4())
        self._hmac_secret = secrets.token_bytes(64)

    @property
    def active_kid(self) -> str:
        """The kid that signs new tokens."""
        with self._lock:
            return self._signing[-1].kid

    @property
    def signing_kids(self) -> tuple[str, ...]:
        """Every published signing kid, oldest first, the active one last."""
        with self._lock:
            return tuple(k.kid for k in self._signing)

    def rotate(self) -> str:
        """Add a new signing key, make it active, keep the previous ones published."""
        key = _new_key(self._realm, "sig", "RS256", self._bits)
        with self._lock:
            self._signing.append(key)
        return key.kid

    def retire(self, kid: str) -> None:
        """Stop publishing (and accepting) a passive signing key.

        Raises ``KeyError`` for an unknown kid and ``ValueError`` for the active key.
        """
        with self._lock:
            kids = [k.kid for k in self._signing]
            if kid not in kids:
                raise KeyError(kid)
            if kid == kids[-1]:
                raise ValueError("cannot retire the active signing key; rotate first")
            self._signing = [k for k in self._signing if k.kid != kid]

    def jwks(self) -> dict[str, Any]:
        """The public JWKS: signing keys (newest first) then the encryption key."""
        with self._lock:
            keys = [k.jwk() for k in reversed(self._signing)] + [self._enc.jwk()]
        return {"keys": keys}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """Sign claims as an RS256 JWT with the active key (or the published ``kid``)."""
        with self._lock:
            chosen = self._signing[-1] if kid is None else next(
                (k for k in self._signing if k.kid == kid), None)
        if chosen is None:
            raise KeyError(kid)
        return sign_compact(claims, chosen.private, "RS256",
                            {"typ": "JWT", "kid": chosen.kid})

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key of a published signing kid, else ``None``."""
        with self._lock:
            for k in self._signing:
                if k.kid == kid:
                    return k.private.public_key()
        return None

    def sign_hmac(self, claims: dict[str, Any]) -> str:
        """Sign claims HS512 with the realm's HMAC key (refresh tokens, as Keycloak)."""
        def seg(obj: dict[str, Any]) -> str:
            return b64url_encode(json.dumps(obj, separators=(",", ":")).encode("utf-8"))

        signing_input = f"{seg({'alg': 'HS512', 'typ': 'JWT', 'kid': self._hmac_kid})}." \
                        f"{seg(claims)}"
        mac = hmac.new(self._hmac_secret, signing_input.encode("ascii"), hashlib.sha512)
        return f"{signing_input}.{b64url_encode(mac.digest())}"

    def verify_hmac(self, token: str) -> dict[str, Any] | None:
        """The claims of an HS512 token this ring signed, else None (expiry not checked)."""
        parts = split_token(token)
        if parts is None:
            return None
        header, claims, signature, signing_input = parts
        if header.get("alg") != "HS512" or header.get("kid") != self._hmac_kid:
            return None
        mac = hmac.new(self._hmac_secret, signing_input, hashlib.sha512)
        return claims if hmac.compare_digest(mac.digest(), signature) else None


def split_token(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes] | None:
    """Header, claims, signature and signing input of a compact JWS this provider could have
    issued (both parts JSON objects), else None. Nothing is verified here."""
    try:
        h64, p64, s64 = token.split(".")
        header = json.loads(b64url_decode(h64))
        claims = json.loads(b64url_decode(p64))
        signature = b64url_decode(s64)
    except ValueError:
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims, signature, f"{h64}.{p64}".encode("ascii")
