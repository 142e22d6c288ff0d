"""Caller benchmark: the cached-token hot path against its floor, and token-endpoint
requests made by svcauth, Authlib and httpx-auth for the same concurrent workload.

    python bench/caller.py [--json] [--quick]

Floor: a dict lookup plus one ``time.monotonic()`` comparison, measured in this run.
Targets (issue 3): cached ``token()`` <= 3x the floor, cached ``await atoken()`` <= 1.5 us.
Each figure is the median of several repeats, timed with ``time.perf_counter_ns``.

The concurrency workload: N threads (sync clients) or N asyncio tasks (async clients) each
send one request to a resource server through a client that has no valid token (svcauth: an
empty cache; Authlib and httpx-auth: their documented client-credentials set-up; Authlib
needs a token to start with, so it is given an expired one and its auto-refresh runs). The
token endpoint is an in-process fake behind ``httpx.MockTransport`` that takes 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
)
from svcauth.httpx import BearerAuth

TOKEN_URL = "https://idp.bench/realms/bench/protocol/openid-connect/token"
RESOURCE = "https://api.bench/orders"
FETCH_DELAY = 0.02

# Authlib warns at import that its httpx support is deprecated in favour of httpx2; its
# deprecate module forces that warning on when imported, so silence it after importing it.
with contextlib.suppress(ImportError):
    import authlib.deprecate  # noqa: F401
warnings.filterwarnings("ignore", message=".*httpx2.*")


def _config() -> ClientConfig:
    return ClientConfig(client_id="bench", auth=ClientSecretBasic("bench-secret"),
                        token_endpoint=TOKEN_URL)


class CountingIdP:
    """Token endpoint + resource server in one MockTransport handler; counts token requests."""

    def __init__(self) -> None:
        self.token_requests = 0
        self._lock = threading.Lock()

    def _token(self) -> httpx.Response:
        with self._lock:
            self.token_requests += 1
            n = self.token_requests
        return httpx.Response(200, json={"access_token": f"eyJbench.{n}.sig", "token_type": "Bearer",
                                         "expires_in": 300})

    def sync(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            time.sleep(FETCH_DELAY)
            return self._token()
        return httpx.Response(200, text="ok")

    async def asynchronous(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            await asyncio.sleep(FETCH_DELAY)
            return self._token()
        return httpx.Response(200, text="ok")


# -- hot path ---------------------------------------------------------------------------

def _per_op_ns(run: Callable[[int], int], n: int, repeats: int) -> float:
    samples = [run(n) / n for _ in range(repeats)]
    return statistics.median(samples)


def _floor(n: int) -> int:
    mono = time.monotonic
    table = {"key": ("eyJtoken", mono() + 3600.0)}
    start = time.perf_counter_ns()
    for _ in range(n):
        entry = table["key"]
        if mono() < entry[1]:
            _ = entry[0]
    return time.perf_counter_ns() - start


def _warm_source() -> CachingTokenSource:
    idp = CountingIdP()
    source = ClientCredentialsSource(
        _config(),
        http=httpx.Client(transport=httpx.MockTransport(idp.sync)),
    )
    cached = CachingTokenSource(source)
    cached.token()
    return cached


def _token_loop(source: CachingTokenSource) -> Callable[[int], int]:
    def run(n: int) -> int:
        token = source.token
        start = time.perf_counter_ns()
        for _ in range(n):
            token()
        return time.perf_counter_ns() - start
    return run


def _atoken_loop(source: CachingTokenSource) -> Callable[[int], int]:
    async def inner(n: int) -> int:
        atoken = source.atoken
        start = time.perf_counter_ns()
        for _ in range(n):
            await atoken()
        return time.perf_counter_ns() - start

    def run(n: int) -> int:
        return asyncio.run(inner(n))
    return run


# -- concurrency comparison -------------------------------------------------------------

def _threads(n: int, call: Callable[[], object]) -> None:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body() -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=body) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} calls failed, first: {errors[0]!r}")


def _svcauth_threads(n: int) -> int:
    idp = CountingIdP()
    source = CachingTokenSource(ClientCredentialsSource(
        _config(),
        http=httpx.Client(transport=httpx.MockTransport(idp.sync))))
    with httpx.Client(transport=httpx.MockTransport(idp.sync), auth=BearerAuth(source)) as client:
        _threads(n, lambda: client.get(RESOURCE).raise_for_status())
    return idp.token_requests


async def _svcauth_tasks(n: int) -> int:
    idp = CountingIdP()
    source = CachingTokenSource(ClientCredentialsSource(
        _config(),
        ahttp=httpx.AsyncClient(transport=httpx.MockTransport(idp.asynchronous))))
    async with httpx.AsyncClient(transport=httpx.MockTransport(idp.asynchronous),
                                 auth=BearerAuth(source)) as client:
        await asyncio.gather(*(client.get(RESOURCE) for _ in range(n)))
    return idp.token_requests


_EXPIRED = {"access_token": "eyJexpired", "token_type": "Bearer", "expires_at": 1}


def _authlib_threads(n: int) -> int:
    from authlib.integrations.httpx_client import OAuth2Client
    idp = CountingIdP()
    client = OAuth2Client("bench", "bench-secret", token_endpoint=TOKEN_URL,
                          grant_type="client_credentials", token=dict(_EXPIRED),
                          transport=httpx.MockTransport(idp.sync))
    _threads(n, lambda: client.get(RESOURCE).raise_for_status())
    client.close()
    return idp.token_requests


async def _authlib_tasks(n: int) -> int:
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    idp = CountingIdP()
    async with AsyncOAuth2Client("bench", "bench-secret", token_endpoint=TOKEN_URL,
                                 grant_type="client_credentials", token=dict(_EXPIRED),
                                 transport=httpx.MockTransport(idp.asynchronous)) as client:
        await asyncio.gather(*(client.get(RESOURCE) for _ in range(n)))
    return idp.token_requests


def _httpx_auth(idp: CountingIdP) -> Any:
    import httpx_auth

    httpx_auth.OAuth2.token_cache.clear()
    # httpx-auth fetches with its own sync client, also inside an AsyncClient (it blocks the loop).
    return httpx_auth.OAuth2ClientCredentials(
        TOKEN_URL, client_id="bench", client_secret="bench-secret",
        client=httpx.Client(transport=httpx.MockTransport(idp.sync)))


def _httpx_auth_threads(n: int) -> int:
    idp = CountingIdP()
    with httpx.Client(transport=httpx.MockTransport(idp.sync), auth=_httpx_auth(idp)) as client:
        _threads(n, lambda: client.get(RESOURCE).raise_for_status())
    return idp.token_requests


async def _httpx_auth_tasks(n: int) -> int:
    idp = CountingIdP()
    async with httpx.AsyncClient(transport=httpx.MockTransport(idp.asynchronous),
                                 auth=_httpx_auth(idp)) as client:
        await asyncio.gather(*(client.get(RESOURCE) for _ in range(n)))
    return idp.token_requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (under ~30 s)")
    args = parser.parse_args(argv)
    n, repeats = (100_000, 5) if args.quick else (1_000_000, 9)
    threads, tasks = 200, 1000

    source = _warm_source()
    floor = _per_op_ns(_floor, n, repeats)
    sync_ns = _per_op_ns(_token_loop(source), n, repeats)
    async_ns = _per_op_ns(_atoken_loop(source), n, repeats)

    requests = {
        "svcauth": {"threads": _svcauth_threads(threads), "tasks": asyncio.run(_svcauth_tasks(tasks))},
        "authlib": {"threads": _authlib_threads(threads), "tasks": asyncio.run(_authlib_tasks(tasks))},
        "httpx_auth": {"threads": _httpx_auth_threads(threads),
                       "tasks": asyncio.run(_httpx_auth_tasks(tasks))},
    }
    result = {
        "python": sys.version.split()[0],
        "iterations": n, "repeats": repeats,
        "floor_ns": round(floor, 1),
        "token_ns": round(sync_ns, 1), "token_ratio_to_floor": round(sync_ns / floor, 2),
        "atoken_ns": round(async_ns, 1), "atoken_ratio_to_floor": round(async_ns / floor, 2),
        "targets": {"token_ratio_max": 3.0, "atoken_ns_max": 1500.0},
        "targets_met": {"token": sync_ns <= 3.0 * floor, "atoken": async_ns <= 1500.0},
        "workload": {"threads": threads, "tasks": tasks, "fetch_delay_s": FETCH_DELAY},
        "token_requests": requests,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"floor (dict lookup + monotonic compare): {floor:8.1f} ns")
    print(f"cached token():                           {sync_ns:8.1f} ns  "
          f"({sync_ns / floor:.2f}x floor, "
          f"target <= 3x: {'met' if result['targets_met']['token'] else 'MISSED'})")
    print(f"cached await atoken():                    {async_ns:8.1f} ns  "
          f"({async_ns / floor:.2f}x floor, "
          f"target <= 1500 ns: {'met' if result['targets_met']['atoken'] else 'MISSED'})")
    print(f"token-endpoint requests, cold cache, {threads} threads / {tasks} asyncio tasks:")
    for name, counts in requests.items():
        print(f"  {name:<11} threads: {counts['threads']:>4}   tasks: {counts['tasks']:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
