"""Verify-side benchmark: svcauth against the cost floor and the Python JOSE libraries.

One run, one Keycloak-like access token (~1 KB of claims) and one key per algorithm
(RS256, PS256, ES256, EdDSA). For each algorithm it measures:

- ``floor``: the least any correct verifier must do — base64url-decode the three segments,
  ``json.loads`` header and payload, one `cryptography` signature verification (with the
  padding/hash objects built once), and the exp/iss/aud checks;
- ``svcauth`` uncached (``cache=None``) and cached (a hit in the verified-token cache);
- joserfc, Authlib (``authlib.jose``) and PyJWT, each with a pre-imported key and the same
  exp/iss/aud checks.

Each time is the median over repeats of the per-call time of one short batch, measured with
``perf_counter_ns``; batches of all implementations are interleaved, round after round, so
load from elsewhere on the machine hits them alike. Each ratio is the median over rounds of
(implementation batch / floor batch of the same round): a paired measure, steadier on a
shared machine than a ratio of two medians.

    python bench/verify.py              # longer, steadier run; a table
    python bench/verify.py --quick --json   # one JSON object, in well under a minute
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import platform
import random
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact
from svcauth.receiver import StaticKeySet, Verifier

ALGS = ("RS256", "PS256", "ES256", "EdDSA")
ISSUER = "http://127.0.0.1:8080/realms/techstore"
AUDIENCE = "notification-service"
IMPLS = ("floor", "svcauth_uncached", "svcauth_cached", "joserfc", "authlib", "pyjwt")


def keycloak_claims(now: int) -> dict[str, Any]:
    """A client-credentials access token's claims as Keycloak 26 issues them (~1 KB)."""
    return {
        "exp": now + 3600, "iat": now, "jti": f"trrtcc:{uuid.uuid4()}", "iss": ISSUER,
        "aud": [AUDIENCE, "inventory-service", "account"], "sub": str(uuid.uuid4()),
        "typ": "Bearer", "azp": "inventory-sync", "acr": "1",
        "allowed-origins": ["/*"],
        "realm_access": {"roles": ["offline_access", "uma_authorization",
                                   "default-roles-techstore", "service"]},
        "resource_access": {
            AUDIENCE: {"roles": ["notifications:send", "notifications:read"]},
            "inventory-service": {"roles": ["stock:read", "stock:write"]},
            "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]},
        },
        "scope": "openid email profile inventory:sync notifications:send",
        "clientHost": "127.0.0.1", "email_verified": False,
        "preferred_username": "service-account-inventory-sync",
        "clientAddress": "127.0.0.1", "client_id": "inventory-sync",
    }


def private_key(alg: str) -> Any:
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _b64(seg: str) -> bytes:
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def floor_for(alg: str, pub: Any) -> Callable[[str], dict[str, Any]]:
    """The minimal correct verification: decode, parse, verify, exp/iss/aud."""
    if alg == "RS256":
        pad, h = padding.PKCS1v15(), hashes.SHA256()

        def check(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data, pad, h)
    elif alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        h = hashes.SHA256()

        def check(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data, pss, h)
    elif alg == "ES256":
        scheme = ec.ECDSA(hashes.SHA256())

        def check(sig: bytes, data: bytes) -> None:
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            pub.verify(der, data, scheme)
    else:
        def check(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data)

    def floor(token: str) -> dict[str, Any]:
        h64, p64, s64 = token.split(".")
        header = json.loads(_b64(h64))
        payload = json.loads(_b64(p64))
        assert header["alg"] == alg
        check(_b64(s64), f"{h64}.{p64}".encode("ascii"))
        if not payload["exp"] > time.time() or payload["iss"] != ISSUER:
            raise ValueError("claims")
        aud = payload["aud"]
        if AUDIENCE not in (aud if isinstance(aud, list) else [aud]):
            raise ValueError("aud")
        return payload

    return floor


def library_verifiers(alg: str, jwk: dict[str, Any], pub: Any) -> dict[str, Callable[[str], Any]]:
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import KeySet as JoseKeySet

    jose_keys = JoseKeySet.import_key_set({"keys": [jwk]})
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )

    def joserfc(token: str) -> Any:
        tok = jose_jwt.decode(token, jose_keys, algorithms=[alg])
        registry.validate(tok.claims)
        return tok.claims

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.jose import JsonWebKey, JsonWebToken

    authlib_jwt = JsonWebToken([alg])
    authlib_keys = JsonWebKey.import_key_set({"keys": [jwk]})
    options = {"iss": {"essential": True, "value": ISSUER},
               "aud": {"essential": True, "value": AUDIENCE}, "exp": {"essential": True}}

    def authlib(token: str) -> Any:
        claims = authlib_jwt.decode(token, authlib_keys, claims_options=options)
        claims.validate()
        return claims

    import jwt as pyjwt

    def pyjwt_decode(token: str) -> Any:
        return pyjwt.decode(token, pub, algorithms=[alg], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iss", "aud"]})

    return {"joserfc": joserfc, "authlib": authlib, "pyjwt": pyjwt_decode}


def setup(alg: str) -> tuple[str, dict[str, Callable[[str], Any]]]:
    key = private_key(alg)
    jwk = public_jwk(key, kid=f"bench-{alg.lower()}", alg=alg, use="sig")
    token = sign_compact(keycloak_claims(int(time.time())), key, alg,
                         {"typ": "JWT", "kid": jwk["kid"]})
    pub = key.public_key()
    keys = StaticKeySet({"keys": [jwk]}, issuer=ISSUER)
    uncached = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys, algorithms=[alg],
                        cache=None)
    cached = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys, algorithms=[alg])
    impls: dict[str, Callable[[str], Any]] = {
        "floor": floor_for(alg, pub),
        "svcauth_uncached": uncached.verify,
        "svcauth_cached": cached.verify,
        **library_verifiers(alg, jwk, pub),
    }
    for name, fn in impls.items():  # every implementation must accept the token
        result = fn(token)
        if result["azp"] != "inventory-sync":
            raise SystemExit(f"{name} returned unexpected claims for {alg}")
    return token, impls


CLOCK: Callable[[], int] = time.perf_counter_ns
"""The timer: ``perf_counter_ns`` (wall); ``--clock thread`` switches to ``thread_time_ns``
(CPU time of this thread), which a busy shared machine disturbs far less."""


def calibrate(fn: Callable[[str], Any], token: str, target_ns: int) -> int:
    """How many calls take about ``target_ns``."""
    n = 1
    while True:
        start = time.perf_counter_ns()
        for _ in range(n):
            fn(token)
        elapsed = time.perf_counter_ns() - start
        if elapsed >= target_ns // 8:
            return max(1, int(n * target_ns / elapsed))
        n *= 4


def per_call_ns(fn: Callable[[str], Any], token: str, n: int) -> float:
    """ns per call over one batch of ``n`` calls."""
    clock = CLOCK
    start = clock()
    for _ in range(n):
        fn(token)
    return (clock() - start) / n


def measure(alg: str, repeats: int, target_ns: int) -> dict[str, float]:
    """Median per-call time of each implementation, and its median paired ratio to the floor.

    Batches are short (1-2 ms) and interleaved, in a shuffled order each round, so a burst of
    load from elsewhere on the machine hits all implementations alike; each round gives one
    ratio per implementation against the floor batch of the same round.
    """
    token, impls = setup(alg)
    counts = {name: calibrate(impls[name], token, target_ns) for name in IMPLS}
    for name in IMPLS:  # warm-up
        per_call_ns(impls[name], token, counts[name])
    samples: dict[str, list[float]] = {name: [] for name in IMPLS}
    ratios: dict[str, list[float]] = {name: [] for name in IMPLS}
    order = list(IMPLS)
    shuffle = random.Random(7).shuffle
    gc.disable()
    try:
        for _ in range(repeats):
            shuffle(order)  # no implementation always runs right after the same neighbour
            for name in order:
                samples[name].append(per_call_ns(impls[name], token, counts[name]))
            for name in IMPLS:
                ratios[name].append(samples[name][-1] / samples["floor"][-1])
    finally:
        gc.enable()
    out: dict[str, float] = {}
    for name in IMPLS:
        out[f"{name}_us"] = round(statistics.median(samples[name]) / 1000, 3)
    for name in IMPLS[1:]:
        out[f"{name}_ratio"] = round(statistics.median(ratios[name]), 3)
    out["cached_speedup_vs_floor"] = round(out["floor_us"] / out["svcauth_cached_us"], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats (<1 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--alg", action="append", choices=ALGS, help="only these algorithms")
    parser.add_argument("--clock", choices=("perf", "thread"), default="perf",
                        help="perf_counter_ns (default) or thread_time_ns (CPU time)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.thread_time_ns if args.clock == "thread" else time.perf_counter_ns
    # The libraries warn about their own deprecations (authlib.jose, EdDSA); not our news.
    warnings.simplefilter("ignore")
    repeats, target_ns = (200, 1_000_000) if args.quick else (1000, 2_000_000)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for alg in args.alg or ALGS:
        results[alg] = measure(alg, repeats, target_ns)
    rs_floor = results.get("RS256", {}).get("floor_us")
    summary = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "repeats": repeats,
        "clock": "thread_time_ns" if args.clock == "thread" else "perf_counter_ns",
        "command": "python bench/verify.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seconds": round(time.perf_counter() - started, 1),
        "targets_met": {
            "uncached_le_1_10x_floor": all(r["svcauth_uncached_ratio"] <= 1.10
                                           for r in results.values()),
            "cached_ge_20x_faster_than_rs256_floor": (
                rs_floor is not None and results["RS256"]["svcauth_cached_us"] * 20 <= rs_floor
            ),
        },
    }
    if args.json:
        print(json.dumps({**results, "meta": summary}, indent=2))
        return 0
    print(f"verify benchmark: median us per call over {repeats} rounds, {summary['clock']} "
          f"(Python {summary['python']}, {summary['machine']})\n")
    head = f"{'alg':<7}" + "".join(f"{n:>18}" for n in IMPLS)
    print(head)
    print("-" * len(head))
    for alg, r in results.items():
        cells = [f"{r['floor_us']:>18.2f}"]
        for name in IMPLS[1:]:
            cells.append(f"{r[name + '_us']:>10.2f} ({r[name + '_ratio']:.2f}x)")
        print(f"{alg:<7}" + "".join(cells))
    if rs_floor:
        speedup = rs_floor / results["RS256"]["svcauth_cached_us"]
        print(f"\ncached hit vs RS256 floor: {speedup:.0f}x faster")
    print(f"targets met: {summary['targets_met']}  ({summary['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
