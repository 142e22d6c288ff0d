"""The shared JWS/JWK primitives: round trips for every algorithm, strict base64url."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws
from joserfc.jwk import KeySet

from svcauth._jwk import key_from_jwk, load_private_key, public_jwk, thumbprint
from svcauth._jws import ALGORITHMS, b64url_decode, b64url_encode, sign_compact


def _key_for(alg: str):  # type: ignore[no-untyped-def]
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    return ec.generate_private_key(curve)


@pytest.mark.parametrize("alg", sorted(ALGORITHMS))
def test_signature_verifies_with_joserfc_and_ourselves(alg: str) -> None:
    key = _key_for(alg)
    jwk = public_jwk(key, alg=alg, use="sig")
    token = sign_compact({"sub": "x", "n": 1}, key, alg, {"kid": jwk["kid"], "typ": "JWT"})
    result = jws.deserialize_compact(token, KeySet.import_key_set({"keys": [jwk]}), algorithms=[alg])
    assert json.loads(result.payload) == {"sub": "x", "n": 1}
    header_b64, payload_b64, sig_b64 = token.split(".")
    pub = key_from_jwk(jwk)
    signing_input = f"{header_b64}.{payload_b64}".encode()
    assert ALGORITHMS[alg].verify(pub, signing_input, b64url_decode(sig_b64))
    assert not ALGORITHMS[alg].verify(pub, signing_input + b"x", b64url_decode(sig_b64))


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_ecdsa_zero_and_wrong_length_signatures_are_invalid(alg: str) -> None:
    key = _key_for(alg)
    size = {"ES256": 32, "ES384": 48, "ES512": 66}[alg]
    assert not ALGORITHMS[alg].verify(key.public_key(), b"data", b"\x00" * (2 * size))
    assert not ALGORITHMS[alg].verify(key.public_key(), b"data", b"\x01" * (2 * size - 1))


@pytest.mark.parametrize("bad", ["YQ=", "YQ==", "Y", "YR", "Y+", "Y/", "Y Q", "YQ\n", "ÿÿ"])
def test_b64url_decode_refuses_non_canonical(bad: str) -> None:
    with pytest.raises(ValueError, match="canonical"):
        b64url_decode(bad)


def test_b64url_round_trip() -> None:
    for n in range(0, 40):
        data = bytes(range(n))
        assert b64url_decode(b64url_encode(data)) == data


def test_private_jwk_round_trip_and_thumbprint_matches_rfc7638_example() -> None:
    # RFC 7638 §3.1 example key and thumbprint.
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe"
         "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368"
         "QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2"
         "NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
    assert thumbprint({"kty": "RSA", "n": n, "e": "AQAB"}) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    key = _key_for("RS256")
    priv = {**public_jwk(key)}
    nums = key.private_numbers()
    for name, value in (("d", nums.d), ("p", nums.p), ("q", nums.q)):
        priv[name] = b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))
    loaded, kid = load_private_key(json.dumps(priv).encode())
    assert kid == priv["kid"]
    assert loaded.private_numbers() == nums  # type: ignore[union-attr]


def test_key_from_jwk_names_expected_and_found() -> None:
    with pytest.raises(ValueError, match="expected RSA, EC or OKP, found 'oct'"):
        key_from_jwk({"kty": "oct", "k": "AAAA"})
