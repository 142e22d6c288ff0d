"""DPoP benchmark (issue 15): what a DPoP-protected request and a proof cost.

Measured in one run, interleaved round after round (the method of bench/verify.py):

- ``verify_floor``: the ES256 verify floor exactly as bench/verify.py measures it (decode,
  parse, one signature verification, exp/iss/aud) on a Keycloak-like ~1 KB token;
- ``dpop_request``: ``Guard.authenticate`` with DPoP required, for a request whose token is
  already in the verified-token cache: header parsing, the cached token, a full proof check
  (typ, alg, jwk, signature, htm, htu, iat, ath, replay) and the ``cnf.jkt`` binding, then the
  policy. Each call gets its own fresh proof (made before the timed batch);
- ``sign_floor``: one bare ES256 signature (``cryptography``, DER out) of a proof-sized
  input, a distinct message per call (made before the timed batch, as every proof differs);
- ``proof``: ``DPoPKey.proof(method, url, ath=...)``: claims, encoding and that signature.

Shown to explain the proof's ratio (no target): ``jose_sign``, the proof's own signer (the
same signature, then DER to JOSE's r || s), and ``proof_no_sign``, a proof whose signer is
a stub returning 64 fixed bytes (what the proof adds around the signature).

Targets: ``dpop_request`` <= 1.15x ``verify_floor``; ``proof`` <= 1.15x ``sign_floor``.
Each ratio is the median over rounds of the paired batch ratio.

    python bench/dpop.py              # a table
    python bench/dpop.py --json       # one JSON object
    python bench/dpop.py --clock thread   # CPU time: steadier on a shared machine
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from verify import AUDIENCE, ISSUER, floor_for, keycloak_claims

from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact
from svcauth.caller import DPoPKey
from svcauth.caller._dpop import access_token_hash
from svcauth.receiver import DPoPSettings, ReplayCache, ServicePolicy, StaticKeySet, Verifier
from svcauth.receiver._guard import Guard
from svcauth.receiver._request import RequestInfo

URL = "https://notifications.example/notifications"
BATCH = 100


def _setup() -> dict[str, Any]:
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(issuer_key, kid="bench-es256", alg="ES256", use="sig")
    caller = DPoPKey.generate()
    claims = keycloak_claims(int(time.time())) | {"cnf": {"jkt": caller.jkt}, "typ": "DPoP"}
    token = sign_compact(claims, issuer_key, "ES256", {"typ": "JWT", "kid": jwk["kid"]})
    plain = sign_compact(keycloak_claims(int(time.time())), issuer_key, "ES256",
                         {"typ": "JWT", "kid": jwk["kid"]})
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["ES256"],
                        key_set=StaticKeySet({"keys": [jwk]}, issuer=ISSUER),
                        token_types=("Bearer",))
    guard = Guard(verifier, ServicePolicy(allowed_clients=("inventory-sync",)),
                  dpop=DPoPSettings(mode="required", replay=ReplayCache(maxsize=1_000_000)))
    return {"issuer_key": issuer_key, "caller": caller, "token": token, "plain": plain,
            "guard": guard, "floor": floor_for("ES256", issuer_key.public_key())}


CLOCK: Callable[[], int] = time.perf_counter_ns
"""``perf_counter_ns``; ``--clock thread``: ``thread_time_ns``, steadier on a busy machine."""


def _timed(run: Callable[[], None]) -> float:
    clock = CLOCK
    start = clock()
    run()
    return (clock() - start) / BATCH


def measure(rounds: int) -> dict[str, Any]:
    s = _setup()
    guard, token, caller, floor, plain = s["guard"], s["token"], s["caller"], s["floor"], s["plain"]
    authorization = [f"DPoP {token}"]
    ath = access_token_hash(token)
    key = s["issuer_key"]
    scheme = ec.ECDSA(hashes.SHA256())
    sample_input = caller.proof("POST", URL, ath=ath).rsplit(".", 1)[0].encode("ascii")

    # Every DPoP request needs a fresh proof: make each batch's proofs before timing it.
    def proofs() -> list[RequestInfo]:
        return [RequestInfo("POST", URL, (caller.proof("POST", URL, ath=ath),))
                for _ in range(BATCH)]

    first = proofs()[0]
    if guard.authenticate(authorization, request=first).client_id != "inventory-sync":
        raise SystemExit("the DPoP request was not accepted")

    def dpop_batch() -> float:
        infos = proofs()
        auth = guard.authenticate

        def run() -> None:
            for info in infos:
                auth(authorization, request=info)
        return _timed(run)

    def floor_batch() -> float:
        def run() -> None:
            for _ in range(BATCH):
                floor(plain)
        return _timed(run)

    # Distinct messages of a proof's size, made before timing (as every proof differs).
    messages = [sample_input[:-12] + b"%012d" % i for i in range(BATCH)]

    def sign_batch() -> float:
        def run() -> None:
            for data in messages:
                key.sign(data, scheme)
        return _timed(run)

    def proof_batch(dpop_key: DPoPKey = caller) -> float:
        make = dpop_key.proof

        def run() -> None:
            for _ in range(BATCH):
                make("POST", URL, ath=ath)
        return _timed(run)

    def jose_sign_batch() -> float:
        sign = caller._sign  # the proof's signer: the signature, then DER to r || s

        def run() -> None:
            for data in messages:
                sign(data)
        return _timed(run)

    stubbed = DPoPKey.generate()
    stubbed._sign = lambda data: b"\x01" * 64  # what the proof costs around its signature

    batches = {"verify_floor": floor_batch, "dpop_request": dpop_batch,
               "sign_floor": sign_batch, "proof": proof_batch,
               "jose_sign": jose_sign_batch, "proof_no_sign": lambda: proof_batch(stubbed)}
    for fn in batches.values():  # warm-up
        fn()
    samples: dict[str, list[float]] = {name: [] for name in batches}
    order = list(batches)
    shuffle = random.Random(11).shuffle
    gc.disable()
    try:
        for _ in range(rounds):
            shuffle(order)
            for name in order:
                samples[name].append(batches[name]())
    finally:
        gc.enable()
    out: dict[str, Any] = {name + "_us": round(statistics.median(v) / 1000, 2)
                           for name, v in samples.items()}
    bases = {"dpop_request": "verify_floor", "proof": "sign_floor", "jose_sign": "sign_floor",
             "proof_no_sign": "sign_floor"}
    for name, base in bases.items():  # the median of each round's own ratio
        out[name + "_ratio"] = round(statistics.median(
            x / b for x, b in zip(samples[name], samples[base], strict=True)), 3)
    out["targets_met"] = {"dpop_request": out["dpop_request_ratio"] <= 1.15,
                          "proof": out["proof_ratio"] <= 1.15}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=41, help="interleaved rounds (41)")
    parser.add_argument("--clock", choices=("perf", "thread"), default="perf",
                        help="perf_counter_ns (wall) or thread_time_ns (CPU of this thread)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.thread_time_ns if args.clock == "thread" else time.perf_counter_ns
    result = {"python": platform.python_version(), "batch": BATCH, "rounds": args.rounds,
              "clock": args.clock,
              **measure(args.rounds)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"ES256 verify floor:                  {result['verify_floor_us']:8.2f} us")
    print(f"DPoP request (cached token + proof): {result['dpop_request_us']:8.2f} us  "
          f"({result['dpop_request_ratio']:.3f}x floor, target <= 1.15x)")
    print(f"bare ES256 signature:                {result['sign_floor_us']:8.2f} us")
    print(f"DPoPKey.proof():                     {result['proof_us']:8.2f} us  "
          f"({result['proof_ratio']:.3f}x signature, target <= 1.15x)")
    print(f"  its signer (signature + DER to r||s): {result['jose_sign_us']:6.2f} us  "
          f"({result['jose_sign_ratio']:.3f}x signature)")
    print(f"  the proof around a stub signature:  {result['proof_no_sign_us']:8.2f} us  "
          f"({result['proof_no_sign_ratio']:.3f}x signature)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
