"""gRPC integration benchmark: the cached-path cost of svcauth's server interceptor per call,
next to an empty interceptor that only continues, on the same loopback server, same run.

    python bench/integration_grpc.py [--json] [--quick]

One server per API (``grpc.server`` and ``grpc.aio.server``) carries two services that
differ only in their interceptor: ``/bench.Empty/Ping`` goes through an interceptor that
returns ``continuation(details)``; ``/bench.Auth/Ping`` through ``ServiceAuthInterceptor`` /
``AsyncServiceAuthInterceptor`` (method table, metadata read, bearer parse, verified-token
cache hit, ``ServicePolicy``, identity context variable). A thin switch in front picks one
of the two by the method's prefix, the same work for both. Each call sends the same signed
token in ``metadata=`` from a sync client over 127.0.0.1; rounds of N sequential unary calls
alternate between the variants (order shuffled per round); the figure is the median of the
per-round means; "paired ratio" is the median of per-round ratios, "of medians" the ratio
of the two figures, "of best" the ratio of the fastest rounds. A second table times the
hooks in process (no network, a fake context): the empty interceptor, svcauth's, and
``Guard.authenticate`` alone.

A last pair compares the caller side on the empty service: svcauth's call credentials
(``local_channel_credentials(tokens)``, a warm ``CachingTokenSource``) against the same
token passed as ``metadata=`` on a local channel. gRPC runs the plugin on a thread of its
own for every call, so this ratio is mostly gRPC's plugin machinery, reported for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact
from svcauth.caller import CachingTokenSource, ClientConfig, ClientSecretBasic, Token
from svcauth.grpc import (
    AsyncServiceAuthInterceptor,
    MethodGuards,
    ServiceAuthInterceptor,
    current_identity,
    local_channel_credentials,
)
from svcauth.receiver import ServicePolicy, StaticKeySet, Verifier
from svcauth.receiver._guard import Guard

ISSUER = "http://127.0.0.1:8080/realms/techstore"
AUDIENCE = "inventory-service"
ROLE = "inventory-service:inventory:reserve"
EMPTY, AUTH = "/bench.Empty/", "/bench.Auth/"


def _token_and_guard() -> tuple[str, Guard[Any]]:
    key = rsa.generate_private_key(65537, 2048)
    now = int(time.time())
    claims = {"exp": now + 3600, "iat": now, "jti": "b-1", "iss": ISSUER,
              "aud": [AUDIENCE, "account"], "sub": "sa-1", "typ": "Bearer", "azp": "shop-api",
              "client_id": "shop-api", "scope": "email profile",
              "resource_access": {"inventory-service": {"roles": ["inventory:reserve"]}}}
    token = sign_compact(claims, key, "RS256", {"typ": "JWT", "kid": "k1"})
    jwks = {"keys": [public_jwk(key, kid="k1", alg="RS256", use="sig")]}
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE,
                        key_set=StaticKeySet(jwks, issuer=ISSUER))
    policy = ServicePolicy(allowed_clients=("shop-api",), required_roles={ROLE})
    return token, Guard(verifier, policy, realm="techstore")


class _Empty(grpc.ServerInterceptor):
    def intercept_service(self, continuation: Any, details: Any) -> Any:
        return continuation(details)


class _AsyncEmpty(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        return await continuation(details)


class _Switch(grpc.ServerInterceptor):
    def __init__(self, empty: Any, auth: Any) -> None:
        self.empty, self.auth = empty, auth

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        chosen = self.auth if details.method.startswith(AUTH) else self.empty
        return chosen.intercept_service(continuation, details)


class _AsyncSwitch(grpc.aio.ServerInterceptor):
    def __init__(self, empty: Any, auth: Any) -> None:
        self.empty, self.auth = empty, auth

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        chosen = self.auth if details.method.startswith(AUTH) else self.empty
        return await chosen.intercept_service(continuation, details)


def _ping_sync(request: bytes, context: Any) -> bytes:
    return request


def _ping_auth_sync(request: bytes, context: Any) -> bytes:
    current_identity()
    return request


async def _ping_aio(request: bytes, context: Any) -> bytes:
    return request


async def _ping_auth_aio(request: bytes, context: Any) -> bytes:
    current_identity()
    return request


def _handlers(empty: Callable[..., Any], auth: Callable[..., Any]) -> tuple[Any, ...]:
    return (grpc.method_handlers_generic_handler("bench.Empty", {
                "Ping": grpc.unary_unary_rpc_method_handler(empty)}),
            grpc.method_handlers_generic_handler("bench.Auth", {
                "Ping": grpc.unary_unary_rpc_method_handler(auth)}))


def _sync_server(guards: MethodGuards) -> tuple[Any, int]:
    server = grpc.server(ThreadPoolExecutor(max_workers=4),
                         interceptors=[_Switch(_Empty(), ServiceAuthInterceptor(guards))])
    server.add_generic_rpc_handlers(_handlers(_ping_sync, _ping_auth_sync))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


class _AioServer:
    def __init__(self, guards: MethodGuards) -> None:
        self.loop = asyncio.new_event_loop()
        self.guards = guards
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait(20)

    def _run(self, started: threading.Event) -> None:
        async def start() -> None:
            self.server = grpc.aio.server(interceptors=[
                _AsyncSwitch(_AsyncEmpty(), AsyncServiceAuthInterceptor(self.guards))])
            self.server.add_generic_rpc_handlers(_handlers(_ping_aio, _ping_auth_aio))
            self.port = self.server.add_insecure_port("127.0.0.1:0")
            await self.server.start()
            started.set()

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _run_rounds(variants: dict[str, Callable[[], None]], rounds: int, calls: int,
                rng: random.Random, warm: int = 200) -> dict[str, list[float]]:
    """Per-round mean microseconds per call for each variant, rounds interleaved."""
    for call in variants.values():  # warm-up: connections, verified-token cache, token cache
        for _ in range(warm):
            call()
    seen: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for _ in range(rounds):
        rng.shuffle(names)
        for name in names:
            call = variants[name]
            start = time.perf_counter_ns()
            for _ in range(calls):
                call()
            seen[name].append((time.perf_counter_ns() - start) / calls / 1000)
    return seen


def _pair(seen: dict[str, list[float]], base: str, other: str) -> dict[str, float]:
    ratios = [o / b for o, b in zip(seen[other], seen[base], strict=True)]
    base_us, other_us = statistics.median(seen[base]), statistics.median(seen[other])
    return {"base_us": base_us, "other_us": other_us, "ratio": statistics.median(ratios),
            "ratio_of_medians": other_us / base_us,
            "ratio_of_best": min(seen[other]) / min(seen[base])}


class _Warm:
    """A fetching source whose one token never needs renewing during the run."""

    dpop = None

    def __init__(self, token: str) -> None:
        self.clock = time.monotonic
        self.config = ClientConfig(client_id="bench", auth=ClientSecretBasic("unused"),
                                   token_endpoint="https://idp.bench/token")
        self._token = token

    def cache_key(self) -> str:
        return "bench"

    def fetch(self) -> Token:
        now = self.clock()
        return Token(access_token=self._token, token_type="Bearer", expires_in=3600.0,
                     expires_at=now + 3600, scope=None, issued_at=now)

    async def afetch(self) -> Token:
        return self.fetch()


class _Details:
    def __init__(self, method: str, metadata: Any) -> None:
        self.method, self.invocation_metadata = method, metadata


class _Context:
    def __init__(self, metadata: Any) -> None:
        self._metadata = metadata

    def invocation_metadata(self) -> Any:
        return self._metadata


def _in_process(guards: MethodGuards, metadata: Any, rounds: int, calls: int,
                rng: random.Random) -> dict[str, dict[str, float]]:
    """The interceptor's own work per call, no network: route + handler call, through the
    empty interceptor and through svcauth's, on a fake context (sync and asyncio)."""
    handler = grpc.unary_unary_rpc_method_handler(_ping_auth_sync)
    empty_handler = grpc.unary_unary_rpc_method_handler(_ping_sync)
    details = _Details(AUTH + "Ping", metadata)
    context = _Context(metadata)
    sync_auth, sync_empty = ServiceAuthInterceptor(guards), _Empty()

    def one_sync_auth() -> None:
        h = sync_auth.intercept_service(lambda d: handler, details)
        h.unary_unary(b"x", context)

    def one_sync_empty() -> None:
        h = sync_empty.intercept_service(lambda d: empty_handler, details)
        h.unary_unary(b"x", context)

    aio_handler = grpc.unary_unary_rpc_method_handler(_ping_auth_aio)
    aio_empty_handler = grpc.unary_unary_rpc_method_handler(_ping_aio)
    aio_auth, aio_empty = AsyncServiceAuthInterceptor(guards), _AsyncEmpty()

    async def found(h: Any) -> Any:
        return h

    async def loop_of(interceptor: Any, h: Any) -> None:
        for _ in range(calls):
            got = await interceptor.intercept_service(lambda d: found(h), details)
            await got.unary_unary(b"x", context)

    guard = guards.guard_for(AUTH + "Ping")
    assert guard is not None
    header = [metadata[0][1]]

    def one_guard() -> None:
        guard.authenticate(header, endpoint="GRPC /bench.Auth/Ping")

    loop = asyncio.new_event_loop()
    variants: dict[str, Callable[[], None]] = {
        "guard_alone": lambda: [one_guard() for _ in range(calls)] and None,
        "sync_empty": lambda: [one_sync_empty() for _ in range(calls)] and None,
        "sync_svcauth": lambda: [one_sync_auth() for _ in range(calls)] and None,
        "aio_empty": lambda: loop.run_until_complete(loop_of(aio_empty, aio_empty_handler)),
        "aio_svcauth": lambda: loop.run_until_complete(loop_of(aio_auth, aio_handler)),
    }
    seen = _run_rounds(variants, rounds, 1, rng, warm=2)
    loop.close()
    per_call = {k: [v / calls for v in vs] for k, vs in seen.items()}
    guard_us = statistics.median(per_call["guard_alone"])
    return {api: {"empty_us": statistics.median(per_call[f"{api}_empty"]),
                  "svcauth_us": statistics.median(per_call[f"{api}_svcauth"]),
                  "guard_alone_us": guard_us,
                  "added_us": statistics.median(per_call[f"{api}_svcauth"])
                  - statistics.median(per_call[f"{api}_empty"])}
            for api in ("sync", "aio")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (~10 s)")
    args = parser.parse_args()
    # Short rounds, many of them: both variants of a pair see the same load within
    # a fraction of a second (the machine is shared), and the median drops the bursts.
    rounds, calls = (41, 50) if args.quick else (201, 50)
    rng = random.Random(18)
    token, guard = _token_and_guard()
    guards = MethodGuards({AUTH: guard}, realm="techstore")  # /bench.Empty/ never reaches it
    metadata = (("authorization", f"Bearer {token}"),)
    began = time.monotonic()

    server, port = _sync_server(guards)
    aio = _AioServer(guards)
    tokens = CachingTokenSource(_Warm(token))
    channels = {
        "sync": grpc.insecure_channel(f"127.0.0.1:{port}"),
        "aio": grpc.insecure_channel(f"127.0.0.1:{aio.port}"),
        "local": grpc.secure_channel(f"127.0.0.1:{port}", grpc.local_channel_credentials()),
        "local+svcauth": grpc.secure_channel(f"127.0.0.1:{port}",
                                             local_channel_credentials(tokens)),
    }
    try:
        def stub(channel: str, method: str, md: Any = metadata) -> Callable[[], None]:
            call = channels[channel].unary_unary(method)
            return lambda: call(b"x", metadata=md, timeout=10) and None

        variants = {
            "sync_empty": stub("sync", EMPTY + "Ping"),
            "sync_svcauth": stub("sync", AUTH + "Ping"),
            "aio_empty": stub("aio", EMPTY + "Ping"),
            "aio_svcauth": stub("aio", AUTH + "Ping"),
            "client_metadata": stub("local", EMPTY + "Ping"),
            "client_call_credentials": stub("local+svcauth", EMPTY + "Ping", None),
        }
        seen = _run_rounds(variants, rounds, calls, rng)
    finally:
        for channel in channels.values():
            channel.close()
        server.stop(None).wait(10)
        aio.stop()

    hooks = _in_process(guards, metadata, 21 if not args.quick else 7,
                        5000 if not args.quick else 1000, rng)
    result = {
        "python": platform.python_version(), "grpcio": grpc.__version__, "in_process": hooks,
        "rounds": rounds, "calls_per_round": calls,
        "sync_server": _pair(seen, "sync_empty", "sync_svcauth"),
        "aio_server": _pair(seen, "aio_empty", "aio_svcauth"),
        "client": _pair(seen, "client_metadata", "client_call_credentials"),
        "seconds": round(time.monotonic() - began, 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"grpc integration benchmark: us per unary call over loopback, median of {rounds} "
          f"rounds x {calls} calls (python {result['python']}, grpcio {result['grpcio']})")
    print()
    print(f"{'server':<18}{'empty interceptor':>19}{'svcauth interceptor':>21}"
          f"{'paired ratio':>14}{'of medians':>12}{'of best':>10}")
    for label, key in (("grpc.server", "sync_server"), ("grpc.aio.server", "aio_server")):
        row = result[key]
        print(f"{label:<18}{row['base_us']:>19.1f}{row['other_us']:>21.1f}{row['ratio']:>13.3f}x"
              f"{row['ratio_of_medians']:>11.3f}x{row['ratio_of_best']:>9.3f}x")
    print()
    print("in process (no network), the hook's own work per call:")
    for label, key in (("grpc.server", "sync"), ("grpc.aio.server", "aio")):
        row = hooks[key]
        print(f"  {label:<20} empty {row['empty_us']:6.2f} us   svcauth {row['svcauth_us']:6.2f} us"
              f"   added {row['added_us']:5.2f} us per call")
    print(f"  Guard.authenticate alone (sync, same token): {hooks['sync']['guard_alone_us']:.2f} us")
    row = result["client"]
    print()
    print(f"caller, local channel: metadata= {row['base_us']:.1f} us, svcauth call "
          f"credentials {row['other_us']:.1f} us ({row['ratio']:.3f}x; gRPC's plugin thread)")
    target = all(result[k]["ratio"] <= 1.05 for k in ("sync_server", "aio_server"))
    print(f"target svcauth interceptor <= 1.05x the empty interceptor: "
          f"{'met' if target else 'NOT met'}  ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
