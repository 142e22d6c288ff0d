"""Load generators for ``bench/load.py``: wrk's output parser and an async httpx loop.

The httpx loop runs in its own process (``python bench/load_client.py URL TOKEN DURATION
CONNECTIONS`` prints one JSON line), so the generator never shares a core's GIL with the
server it measures.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"wrk latency: expected a number with a unit, found {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    """``rps``, ``p50_ms``, ``p99_ms`` and ``errors`` from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and p50 and p99):
        raise ValueError(f"wrk output not understood: {out[-500:]!r}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return {"rps": float(rps.group(1)), "p50_ms": _ms(p50.group(1)), "p99_ms": _ms(p99.group(1)),
            "errors": float(errors)}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(url: str, token: str, duration: float, connections: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:
        stop = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while (t0 := time.perf_counter()) < stop:
                try:
                    r = await http.get(url, headers=headers)
                    if r.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return {"rps": len(latencies) / elapsed, "p50_ms": _percentile(latencies, 0.50),
            "p99_ms": _percentile(latencies, 0.99), "errors": float(errors)}


def run_httpx_load(url: str, token: str, *, duration: float, connections: int) -> dict[str, float]:
    """Drive ``url`` from a child process for ``duration`` seconds; its figures."""
    out = subprocess.run([sys.executable, str(Path(__file__)), url, token, str(duration),
                          str(connections)], capture_output=True, text=True, check=True,
                         timeout=duration + 60).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    _url, _token, _duration, _conns = sys.argv[1:5]
    print(json.dumps(asyncio.run(_drive(_url, _token, float(_duration), int(_conns)))))
