"""Attack token builders for the attack table: forged headers, HMAC with a public key,
attacker certificates, raw JSON, non-canonical base64url spellings, bad ECDSA signatures."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from typing import Any

from attack_kit import (
    DROP,
    KID,
    default_kid,
    keys,
    mint,
    raw_segment,
    realm_key,
    segment,
    service_claims,
    sign_raw,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from svcauth._jwk import public_jwk
from svcauth._jws import b64url_encode

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def header_b64(**members: Any) -> str:
    h = {"alg": "RS256", "typ": "JWT", "kid": KID, **members}
    return segment({k: v for k, v in h.items() if v is not DROP})


def unsigned(alg: str) -> str:
    return f"{header_b64(alg=alg)}.{segment(service_claims())}."


def hmac_with_public_key(form: str) -> str:
    pub = keys().rsa.public_key()
    secret = {
        "pem": pub.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": pub.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": json.dumps(public_jwk(pub, kid=KID, alg="RS256", use="sig")).encode(),
    }[form]
    signing_input = f"{header_b64(alg='HS256')}.{segment(service_claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def attacker_cert_b64() -> str:
    key = keys().attacker
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "techstore")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def attacker(header: dict[str, Any], kid: Any = KID) -> str:
    return mint(service_claims(), key=keys().attacker, kid=kid, header=header)


def raw_payload(text: bytes, alg: str = "RS256") -> str:
    return sign_raw(header_b64(alg=alg, kid=default_kid(alg)), raw_segment(text), realm_key(alg), alg)


def raw_header(text: bytes) -> str:
    return sign_raw(raw_segment(text), segment(service_claims()), keys().rsa, "RS256")


def ecdsa_signature(sig: bytes) -> str:
    token = mint(alg="ES256", key=keys().ec256, kid="ec-1")
    return token.rsplit(".", 1)[0] + "." + b64url_encode(sig)


def der_ecdsa() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    h = header_b64(alg="ES256", kid="ec-1")
    p = segment(service_claims())
    der = keys().ec256.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    return f"{h}.{p}.{b64url_encode(der)}"


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def with_trailing_bits(seg: str) -> str:
    """The same bytes spelled with non-zero trailing bits (a second spelling of one value)."""
    rem = len(seg) % 4
    assert rem in (2, 3), "needs a partial final quantum"
    value = _ALPHABET.index(seg[-1])
    return seg[:-1] + _ALPHABET[value | 1]


def with_partial_quantum(claims_pad: int) -> tuple[str, str]:
    """Header and payload segments whose lengths leave a partial final quantum."""
    for pad in range(claims_pad, claims_pad + 8):
        p = segment(service_claims(jti="x" * pad))
        if len(p) % 4 in (2, 3):
            h = header_b64()
            return h, p
    raise AssertionError("unreachable")


def noncanonical(variant: str) -> str:
    """A token re-signed over a non-canonical spelling of its segments, so that only the
    spelling can be the reason for refusal."""
    h, p = with_partial_quantum(0)
    if variant == "payload_padding":
        p = p + "=" * (-len(p) % 4)
    elif variant == "payload_trailing_bits":
        p = with_trailing_bits(p)
    elif variant == "payload_standard_alphabet":
        # '?' in a JSON string forces '/' or '+' in base64url text as '_' or '-'.
        p = segment(service_claims(jti="???>>>~~~"))
        assert "_" in p or "-" in p
        p = p.replace("_", "/").replace("-", "+")
    elif variant == "payload_newline":
        p = p[:10] + "\n" + p[10:]
    elif variant == "payload_space":
        p = p[:10] + " " + p[10:]
    elif variant == "payload_one_extra_char":
        while len(p) % 4 != 1:
            p += "A"
    elif variant == "header_padding":
        h = h + "=" * (-len(h) % 4) if len(h) % 4 else h + "===="
    elif variant == "header_trailing_bits":
        h = header_b64(x="a" * next(i for i in range(8) if len(header_b64(x="a" * i)) % 4 in (2, 3)))
        h = with_trailing_bits(h)
    return sign_raw(h, p, keys().rsa, "RS256")


def signature_variant(variant: str) -> str:
    for n in range(64):
        token = mint(service_claims(jti=f"sig-{n}"))
        head, sig = token.rsplit(".", 1)
        if variant == "standard_alphabet" and ("-" in sig or "_" in sig):
            return f"{head}.{sig.replace('-', '+').replace('_', '/')}"
        if variant == "trailing_bits" and len(sig) % 4 in (2, 3):
            return f"{head}.{with_trailing_bits(sig)}"
        if variant == "padding" and len(sig) % 4:
            return f"{head}.{sig}{'=' * (-len(sig) % 4)}"
    raise AssertionError("no suitable signature found")


def jwe() -> str:
    h = segment({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": KID})
    return ".".join([h, raw_segment(b"k" * 256), raw_segment(b"iv" * 6), raw_segment(b"ct" * 40),
                     raw_segment(b"tag" * 5)])


def claims_token(**overrides: Any) -> str:
    return mint(service_claims(**overrides))


def time_claims_raw(name: str, literal: str) -> str:
    claims = service_claims()
    claims[name] = "__LITERAL__"
    text = json.dumps(claims, separators=(",", ":")).replace('"__LITERAL__"', literal)
    return raw_payload(text.encode())
