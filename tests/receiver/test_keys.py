"""Which JWKs may verify which algorithm, and the raw signature checks behind them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from receiver_support import ISSUER, Realm, new_key

from svcauth._errors import InvalidTokenError
from svcauth._jwk import public_jwk
from svcauth._jws import ALGORITHMS
from svcauth.receiver import StaticKeySet
from svcauth.receiver._keys import KeyEntry, index_from_jwks, make_verify


def _jwk(key_alg: str = "RS256", **members: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = public_jwk(new_key(key_alg), kid="k", alg=key_alg, use="sig")
    for name, value in members.items():
        if value is None:
            jwk.pop(name, None)
        else:
            jwk[name] = value
    return jwk


JWK_RULES: list[tuple[str, Callable[[], dict[str, Any]], str, bool]] = [
    ("use sig", lambda: _jwk(), "RS256", True),
    ("no use", lambda: _jwk(use=None), "RS256", True),
    ("use enc", lambda: _jwk(use="enc"), "RS256", False),
    ("key_ops verify", lambda: _jwk(key_ops=["verify"]), "RS256", True),
    ("key_ops encrypt only", lambda: _jwk(key_ops=["encrypt"]), "RS256", False),
    ("no alg: every RSA alg", lambda: _jwk(alg=None), "PS384", True),
    ("alg RS512 refuses RS256", lambda: _jwk(alg="RS512"), "RS256", False),
    ("RSA key for ES256", lambda: _jwk(alg=None), "ES256", False),
    ("alg not fitting kty", lambda: _jwk(alg="ES256"), "ES256", False),
    ("P-256 key for ES384", lambda: _jwk("ES256", alg=None), "ES384", False),
    ("P-256 key for ES256", lambda: _jwk("ES256", alg=None), "ES256", True),
    ("Ed25519 for EdDSA", lambda: _jwk("EdDSA"), "EdDSA", True),
    ("kid a number", lambda: _jwk(kid=7), "RS256", False),
    ("private material", lambda: _jwk(d="AQAB"), "RS256", False),
    ("symmetric key", lambda: {"kty": "oct", "k": "c2VjcmV0", "kid": "k"}, "HS256", False),
    ("garbage modulus", lambda: _jwk(n="!!"), "RS256", False),
]


@pytest.mark.parametrize(("name", "jwk", "alg", "usable"), JWK_RULES,
                         ids=[r[0] for r in JWK_RULES])
def test_jwk_rules(name: str, jwk: Callable[[], dict[str, Any]], alg: str, usable: bool) -> None:
    index = index_from_jwks({"keys": [jwk()]}, issuer=ISSUER)
    assert (index.lookup("k", alg) is not None) is usable


def test_rsa_keys_under_2048_bits_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    index = index_from_jwks({"keys": [public_jwk(small, kid="k")]}, issuer=ISSUER)
    assert index.lookup("k", "RS256") is None and "1024 bits" in index.skipped[0]
    with pytest.raises(ValueError, match="1024"):
        make_verify(small.public_key(), "RS256")


def test_two_keys_with_one_kid_are_both_distrusted() -> None:
    one, two = _jwk(), _jwk()
    index = index_from_jwks({"keys": [one, two]}, issuer=ISSUER)
    assert index.lookup("k", "RS256") is None


def test_static_key_set_from_a_mapping_of_keys() -> None:
    key = new_key("ES256")
    keys = StaticKeySet({"a": key.public_key()}, issuer=ISSUER)
    assert keys.get_key("a", "ES256") is not None
    with pytest.raises(InvalidTokenError) as info:
        keys.get_key("a", "RS256")
    assert info.value.code == "key_not_found"


ECDSA_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}


@pytest.mark.parametrize("alg", sorted(ECDSA_SIZES))
def test_ecdsa_zero_out_of_range_and_wrong_length_signatures_fail(alg: str) -> None:
    from svcauth.receiver._keys import _EC_ORDERS

    key = new_key(alg)
    entry = KeyEntry(kid="k", alg=alg, key=key.public_key(), issuer=ISSUER, fingerprint=1)
    size = ECDSA_SIZES[alg]
    good = ALGORITHMS[alg].sign(key, b"data")
    assert entry.verify(good, b"data")
    order = _EC_ORDERS[key.curve.name]
    r, s = good[:size], good[size:]
    high_s = (order - int.from_bytes(s, "big")).to_bytes(size, "big")
    assert entry.verify(r + high_s, b"data")  # ECDSA malleability: (r, n - s) is valid too
    n_bytes = order.to_bytes(size, "big")
    r_plus_n = (int.from_bytes(r, "big") + order)
    bad = [b"\x00" * 2 * size, r + b"\x00" * size, n_bytes + s, r + n_bytes, good[:-1],
           good + b"\x00"]
    if r_plus_n < 1 << (8 * size):
        bad.append(r_plus_n.to_bytes(size, "big") + s)
    for sig in bad:
        assert not entry.verify(sig, b"data")


@pytest.mark.parametrize("alg", ["RS256", "PS256", "EdDSA"])
def test_wrong_length_signatures_fail_without_raising(alg: str) -> None:
    key = new_key(alg)
    entry = KeyEntry(kid="k", alg=alg, key=key.public_key(), issuer=ISSUER, fingerprint=1)
    good = ALGORITHMS[alg].sign(key, b"data")
    for sig in (b"", good[:-1], good + b"\x00", b"\x00" * len(good), b"\xff" * len(good)):
        assert not entry.verify(sig, b"data")
    assert entry.verify(good, b"data")


def test_realm_jwks_round_trip_for_every_algorithm() -> None:
    realm = Realm()
    for alg in ALGORITHMS:
        realm.add_key(alg, kid=alg)
    keys = StaticKeySet(realm.jwks(), issuer=ISSUER)
    assert keys.kids == frozenset(ALGORITHMS)
