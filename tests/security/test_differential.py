"""Differential tests: svcauth never accepts a token that joserfc or PyJWT, configured with
the same keys and equivalent checks, rejects.

A seeded generator builds valid tokens and mutates them (claims, header, key, bytes after
signing, raw JSON). Equivalent checks: issuer (exact), audience, required ``exp``, ``nbf`` and
``iat`` with the same 30 s leeway at the same injected instant, Keycloak's ``typ`` claim
``Bearer``, the same algorithm allow-list, and the same key selection (by ``kid``; without a
``kid``, the one key declared for the token's ``alg``). svcauth is allowed to be stricter
(header ``typ``, ``crit``, duplicate members, non-canonical base64url...), never laxer.

``SVCAUTH_DIFFERENTIAL_TOKENS`` sets how many tokens are generated (default 3000).
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import hmac
import json
import math
import os
import random
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
import pytest
from attack_kit import (
    AUDIENCE,
    DROP,
    ISSUER,
    KID,
    LEEWAY,
    NOW,
    OTHER_ISSUER,
    clock,
    keys,
    raw_segment,
    segment,
    service_claims,
)
from cryptography.hazmat.primitives import serialization
from joserfc import jwt as josejwt
from joserfc.jwk import KeySet as JoseKeySet
from joserfc.jws import JWSRegistry

from svcauth import InvalidTokenError
from svcauth._jwk import public_jwk
from svcauth._jws import ALGORITHMS, PrivateKey, b64url_encode
from svcauth.receiver import StaticKeySet, Verifier

ALGS = ["RS256", "PS256", "ES256", "ES384", "EdDSA"]
COUNT = int(os.environ.get("SVCAUTH_DIFFERENTIAL_TOKENS", "3000"))


def jwks() -> dict[str, Any]:
    k = keys()
    return {"keys": [
        public_jwk(k.rsa, kid=KID, alg="RS256", use="sig"),
        public_jwk(k.other_realm, kid="ps-1", alg="PS256", use="sig"),
        public_jwk(k.ec256, kid="ec-1", alg="ES256", use="sig"),
        public_jwk(k.ec384, kid="ec-384", alg="ES384", use="sig"),
        public_jwk(k.ed, kid="ed-1", alg="EdDSA", use="sig"),
    ]}


def signing_keys() -> dict[str, tuple[str, PrivateKey]]:
    k = keys()
    return {"RS256": (KID, k.rsa), "PS256": ("ps-1", k.other_realm), "ES256": ("ec-1", k.ec256),
            "ES384": ("ec-384", k.ec384), "EdDSA": ("ed-1", k.ed)}


# -- the three verifiers ----------------------------------------------------------------------


def svcauth_accepts(verifier: Verifier, token: str) -> tuple[bool, str]:
    try:
        verifier.verify(token)
    except InvalidTokenError as exc:
        return False, exc.code
    return True, "accepted"


def _pick(document: dict[str, Any], header: Any) -> dict[str, Any]:
    """The JWK the token names: by kid, or the one key declared for its alg when it has none."""
    if not isinstance(header, dict):
        raise ValueError("header")
    kid, alg = header.get("kid"), header.get("alg")
    if kid is None:
        matches = [j for j in document["keys"] if j.get("alg") == alg]
    else:
        matches = [j for j in document["keys"] if j.get("kid") == kid]
    if len(matches) != 1:
        raise ValueError("no key")
    return matches[0]


class _Registry(JWSRegistry):
    # joserfc refuses headers over 512 bytes; svcauth caps the whole token at 8 KiB instead.
    # Same cap here, so a header carrying a JWK is judged on its content, not its size.
    max_header_length = 8192


def joserfc_accepts(document: dict[str, Any], key_set: JoseKeySet, token: str) -> bool:
    registry = josejwt.JWTClaimsRegistry(
        now=int(NOW), leeway=int(LEEWAY), iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE}, exp={"essential": True},
        typ={"essential": True, "value": "Bearer"},
    )

    def resolve(obj: Any) -> Any:
        return key_set.get_by_kid(_pick(document, obj.headers())["kid"])

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decoded = josejwt.decode(token, resolve, registry=_Registry(algorithms=ALGS))
            registry.validate(decoded.claims)
    except Exception:
        return False
    return True


def fractional_times(token: str) -> bool:
    """True when exp, nbf or iat is a non-integer number. PyJWT truncates those with
    ``int()`` before comparing (an exp of now - 29.5 s is expired for it with a 30 s leeway),
    so its verdict on them is not an equivalent check and is not used."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    except Exception:
        return False
    if not isinstance(payload, dict):
        return False
    times = [payload.get(n) for n in ("exp", "nbf", "iat")]
    return any(type(t) is float and math.isfinite(t) and not t.is_integer() for t in times)


def pyjwt_accepts(document: dict[str, Any], token: str) -> bool:
    try:
        header = pyjwt.get_unverified_header(token)
        key = pyjwt.PyJWK(_pick(document, header))
        claims = pyjwt.decode(token, key=key, algorithms=ALGS, audience=AUDIENCE, issuer=ISSUER,
                              leeway=LEEWAY, options={"require": ["exp", "iss", "aud"]})
    except Exception:
        return False
    return claims.get("typ") == "Bearer"


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> _FrozenDatetime:  # type: ignore[override]
        return cls.fromtimestamp(NOW, tz)


# -- the generator ----------------------------------------------------------------------------


def _time_value(rng: random.Random) -> Any:
    offsets = [-100_000, -31, -30, -29.5, -29, -1, 0, 1, 29, 30, 30.5, 31, 3600]
    choice = rng.random()
    if choice < 0.75:
        value = NOW + rng.choice(offsets)
        return int(value) if value == int(value) and rng.random() < 0.8 else value
    return rng.choice([str(int(NOW) + 100), None, True, False, [int(NOW) + 100], 1e308, -1,
                       {"t": 1}, 0, 253_402_300_800])


CLAIM_MUTATIONS: dict[str, Callable[[dict[str, Any], random.Random], None]] = {
    "exp": lambda c, r: c.__setitem__("exp", _time_value(r)),
    "exp_drop": lambda c, r: c.pop("exp", None),
    "nbf": lambda c, r: c.__setitem__("nbf", _time_value(r)),
    "iat": lambda c, r: c.__setitem__("iat", _time_value(r)),
    "iat_drop": lambda c, r: c.pop("iat", None),
    "iss": lambda c, r: c.__setitem__("iss", r.choice(
        [ISSUER, ISSUER + "/", ISSUER[:-1], OTHER_ISSUER, None, [ISSUER], ISSUER.upper(), 1])),
    "iss_drop": lambda c, r: c.pop("iss", None),
    "aud": lambda c, r: c.__setitem__("aud", r.choice(
        [AUDIENCE, [AUDIENCE], ["account"], "account", [], [AUDIENCE, "account"], [AUDIENCE, 1],
         None, AUDIENCE.upper(), [[AUDIENCE]], {"a": AUDIENCE}, AUDIENCE + " "])),
    "aud_drop": lambda c, r: c.pop("aud", None),
    "typ": lambda c, r: c.__setitem__("typ", r.choice(
        ["Bearer", "ID", "Refresh", "bearer", None, ["Bearer"], 1, "Bearer "])),
    "typ_drop": lambda c, r: c.pop("typ", None),
    "extra": lambda c, r: c.__setitem__("x-extra", r.choice([1, "s", None, [1, {"a": []}], 1.5e300])),
}

HEADER_MUTATIONS: dict[str, Callable[[dict[str, Any], random.Random], None]] = {
    "alg": lambda h, r: h.__setitem__("alg", r.choice(
        ["RS256", "RS384", "PS256", "ES256", "ES384", "EdDSA", "HS256", "none", "", None, "rs256"])),
    "kid": lambda h, r: h.__setitem__("kid", r.choice(
        [KID, "ec-1", "ed-1", "ps-1", "unknown", 123, None, "", "../" + KID])),
    "kid_drop": lambda h, r: h.pop("kid", None),
    "typ": lambda h, r: h.__setitem__("typ", r.choice(["JWT", "at+jwt", "jwt", "JOSE", 1, None])),
    "typ_drop": lambda h, r: h.pop("typ", None),
    "crit": lambda h, r: h.update({"crit": ["exp"], "exp": 1}),
    "b64": lambda h, r: h.__setitem__("b64", r.choice([False, True, "false"])),
    "jwk": lambda h, r: h.__setitem__("jwk", public_jwk(keys().attacker)),
    "jku": lambda h, r: h.__setitem__("jku", "http://127.0.0.1:9/jwks"),
}


def _sign(header: dict[str, Any], payload_b64: str, key: Any, alg: str) -> str:
    h = segment(header)
    signing_input = f"{h}.{payload_b64}".encode()
    if alg in ALGORITHMS:
        try:
            sig = ALGORITHMS[alg].sign(key, signing_input)
        except Exception:
            sig = b"\x00" * 64  # key does not fit the algorithm: the signature is junk
    elif alg == "HS256":
        secret = keys().rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    else:
        sig = b""
    return f"{h}.{payload_b64}.{b64url_encode(sig)}"


def _post(token: str, rng: random.Random) -> tuple[str, str]:
    parts = token.split(".")
    kind = rng.choice(["flip_sig", "flip_payload", "pad", "std_alphabet", "truncate_sig",
                       "extra_segment", "swap_sig", "trailing_bits"])
    if kind == "flip_sig" and parts[2]:
        i = rng.randrange(len(parts[2]))
        parts[2] = parts[2][:i] + ("A" if parts[2][i] != "A" else "B") + parts[2][i + 1:]
    elif kind == "flip_payload":
        i = rng.randrange(len(parts[1]))
        parts[1] = parts[1][:i] + ("A" if parts[1][i] != "A" else "B") + parts[1][i + 1:]
    elif kind == "pad":
        j = rng.randrange(3)
        parts[j] += "=" * (-len(parts[j]) % 4 or 4)
    elif kind == "std_alphabet":
        parts = [p.replace("-", "+").replace("_", "/") for p in parts]
    elif kind == "truncate_sig":
        parts[2] = parts[2][: rng.randrange(len(parts[2]) + 1)]
    elif kind == "extra_segment":
        parts.append("e30")
    elif kind == "swap_sig":
        parts[2] = b64url_encode(rng.randbytes(rng.choice([64, 96, 256])))
    elif kind == "trailing_bits":
        j = rng.randrange(3)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        if parts[j] and len(parts[j]) % 4 in (2, 3):
            parts[j] = parts[j][:-1] + alphabet[alphabet.index(parts[j][-1]) | 1]
    return ".".join(parts), f"post:{kind}"


def generate(rng: random.Random) -> tuple[str, list[str]]:
    """One token and the names of the mutations applied to it."""
    base_alg = rng.choice(ALGS)
    kid, key = signing_keys()[base_alg]
    header: dict[str, Any] = {"alg": base_alg, "typ": "JWT", "kid": kid}
    claims = service_claims(jti=f"{rng.random():.12f}")
    applied: list[str] = []
    if rng.random() < 0.35:
        return _sign(header, segment(claims), key, base_alg), ["valid"]
    raw_json: bytes | None = None
    for _ in range(rng.randint(1, 3)):
        area = rng.random()
        if area < 0.45:
            name = rng.choice(list(CLAIM_MUTATIONS))
            CLAIM_MUTATIONS[name](claims, rng)
            applied.append(f"claim:{name}")
        elif area < 0.75:
            name = rng.choice(list(HEADER_MUTATIONS))
            HEADER_MUTATIONS[name](header, rng)
            applied.append(f"header:{name}")
        elif area < 0.85:
            key = rng.choice([keys().attacker, keys().rsa, keys().ec256, keys().ed])
            applied.append("key:swap")
        else:
            text = json.dumps(claims, separators=(",", ":"))
            raw_json = rng.choice([
                text[:-1].encode() + b',"iss":"' + ISSUER.encode() + b'"}',
                b'{"aud":"evil",' + text[1:].encode(),
                b" " + text.encode() + b"\n",
                text.encode() + b"x",
            ])
            applied.append("raw:json")
    alg = header.get("alg") if isinstance(header.get("alg"), str) else base_alg
    payload_b64 = raw_segment(raw_json) if raw_json is not None else segment(claims)
    token = _sign({k: v for k, v in header.items() if v is not DROP}, payload_b64, key, str(alg))
    if rng.random() < 0.3:
        token, name = _post(token, rng)
        applied.append(name)
    return token, applied


def test_svcauth_never_accepts_what_joserfc_or_pyjwt_rejects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pyjwt.api_jwt, "datetime", _FrozenDatetime)
    document = jwks()
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=ALGS, clock=clock,
                        cache=None, key_set=StaticKeySet(copy.deepcopy(document), issuer=ISSUER))
    jose_keys = JoseKeySet.import_key_set(copy.deepcopy(document))
    rng = random.Random(20261126)
    violations: list[tuple[list[str], str]] = []
    outcomes: Counter[str] = Counter()
    stricter: Counter[str] = Counter()
    for _ in range(COUNT):
        token, applied = generate(rng)
        ok, code = svcauth_accepts(verifier, token)
        outcomes[code] += 1
        jose_ok = joserfc_accepts(document, jose_keys, token)
        py_ok = pyjwt_accepts(document, token) or fractional_times(token)
        if ok and not (jose_ok and py_ok):
            header = base64.urlsafe_b64decode(token.split(".")[0] + "==")[:80].decode("latin-1")
            violations.append((applied, f"joserfc={jose_ok} pyjwt={py_ok} header={header}"))
        if not ok and jose_ok:
            stricter[code] += 1
    assert violations == [], Counter(" + ".join(a) + " | " + w for a, w in violations)
    # The run must have exercised both outcomes broadly, or it proves nothing.
    assert outcomes["accepted"] >= COUNT // 5, outcomes
    assert COUNT - outcomes["accepted"] >= COUNT // 3, outcomes
    assert len(outcomes) >= 12, outcomes


def test_the_comparison_libraries_accept_the_generators_valid_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard against a vacuous run: the reference verifiers must accept plain valid tokens."""
    monkeypatch.setattr(pyjwt.api_jwt, "datetime", _FrozenDatetime)
    document = jwks()
    jose_keys = JoseKeySet.import_key_set(copy.deepcopy(document))
    for alg in ALGS:
        kid, key = signing_keys()[alg]
        token = _sign({"alg": alg, "typ": "JWT", "kid": kid}, segment(service_claims()), key, alg)
        assert joserfc_accepts(document, jose_keys, token), alg
        assert pyjwt_accepts(document, token), alg
        expired = _sign({"alg": alg, "typ": "JWT", "kid": kid},
                        segment(service_claims(exp=int(NOW - LEEWAY))), key, alg)
        assert not joserfc_accepts(document, jose_keys, expired), alg
        assert not pyjwt_accepts(document, expired), alg
