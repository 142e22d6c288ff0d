"""Load benchmark: what authentication costs a FastAPI service's throughput (issue 8).

One run, loopback only, bounded in count and time. The embedded DevIdP (in this process)
signs one shop-api token and serves the JWKS. For each variant of ``bench/load_app.py``
(``none``, ``noop-dependency`` (FastAPI's ``Depends`` alone), ``svcauth`` (the FastAPI
dependency) with the verified-token cache, ``svcauth-asgi`` (svcauth's plain ASGI middleware,
same guard and cache), ``svcauth-nocache``, ``pyjwt`` — ``HTTPBearer`` + ``PyJWKClient``)
a uvicorn process serves the protected route and a load generator in another process
drives it: ``wrk`` when installed (``apt-get install wrk``), else an async httpx loop
(``bench/load_client.py``). Variants are interleaved round after round so the shared
machine's noise hits them alike; requests/s is the mean over rounds, p50/p99 the median
over rounds. Ratios are to ``none``.

Then, unless ``--skip-caller``, the caller side (``bench/load_caller.py``): MockMart on a
realm copy with shop-api's token lifetime set to ``--token-lifetime`` (default: the realm's
300 s), 100 checkouts per second for ``--caller-duration`` seconds, counting shop-api's
token requests at the IdP.

    python bench/load.py                        # table
    python bench/load.py --json                 # one JSON object
    python bench/load.py --duration 5 --rounds 1 --caller-duration 10   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
from load_app import VARIANTS  # noqa: E402
from load_client import parse_wrk, run_httpx_load  # noqa: E402

from svcauth.devidp import DevIdP, load_env_file  # noqa: E402

REALM = REPO / "deploy" / "keycloak" / "techstore-realm.json"
DEV_ENV = REPO / "deploy" / "dev.env"


def machine() -> dict[str, Any]:
    """Cores, CPU model and Python of this machine."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform()}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``load_app.py`` variant in a uvicorn child process."""

    def __init__(self, variant: str, issuer: str, jwks_uri: str) -> None:
        self.variant = variant
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/notifications"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "load_app.py"), variant, str(self.port), issuer,
             jwks_uri], env={**os.environ, "PYTHONPATH": str(REPO / "src")})

    def wait(self, token: str, timeout: float = 30.0) -> None:
        """Until the route answers 200 with ``token`` (the first JWKS fetch happens here)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = httpx.get(self.url, headers={"Authorization": f"Bearer {token}"}, timeout=2)
                if r.status_code == 200:
                    return
                raise RuntimeError(f"{self.variant}: expected 200, found {r.status_code} {r.text}")
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.variant}: server did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Terminate the child (kill after 5 s)."""
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_wrk(url: str, token: str, *, duration: float, connections: int) -> dict[str, float]:
    """One wrk run (one thread: the server gets the other core)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    return parse_wrk(out)


def measure(url: str, token: str, *, duration: float, connections: int,
            generator: str) -> dict[str, float]:
    """requests/s, p50_ms, p99_ms, errors of one run."""
    if generator == "wrk":
        return run_wrk(url, token, duration=duration, connections=connections)
    return run_httpx_load(url, token, duration=duration, connections=connections)


def server_bench(args: argparse.Namespace, token_life: int = 3600) -> dict[str, Any]:
    """Every variant, interleaved over ``args.rounds`` rounds."""
    env = load_env_file(DEV_ENV)
    idp = DevIdP(REALM, env=env).start()
    try:
        token = idp.mint_token("shop-api", lifetime=token_life)
        servers = {v: Server(v, idp.issuer, idp.jwks_uri) for v in args.variants}
        try:
            for s in servers.values():
                s.wait(token)
            for s in servers.values():  # warm-up
                measure(s.url, token, duration=args.warmup, connections=args.connections,
                        generator=args.generator)
            runs: dict[str, list[dict[str, float]]] = {v: [] for v in servers}
            for _ in range(args.rounds):
                for v, s in servers.items():
                    runs[v].append(measure(s.url, token, duration=args.duration,
                                           connections=args.connections,
                                           generator=args.generator))
        finally:
            for s in servers.values():
                s.stop()
        jwks_fetches = idp.stats()["jwks_fetches"]
    finally:
        idp.stop()
    results: dict[str, Any] = {}
    for v, rs in runs.items():
        results[v] = {
            "rps": round(statistics.fmean(r["rps"] for r in rs), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in rs), 3),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in rs), 3),
            "errors": int(sum(r["errors"] for r in rs)),
            "rounds_rps": [round(r["rps"], 1) for r in rs],
        }
    base = results.get("none", {}).get("rps")
    for v in results:
        results[v]["ratio_to_none"] = round(results[v]["rps"] / base, 3) if base else None
    return {"variants": results, "jwks_fetches_at_idp": jwks_fetches}


def caller_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``load_caller.py`` in its own process and return its JSON."""
    cmd = [sys.executable, str(HERE / "load_caller.py"), "--duration", str(args.caller_duration),
           "--rate", str(args.caller_rate), "--token-lifetime", str(args.token_lifetime)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         timeout=args.caller_duration * 3 + 180,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    if out.returncode != 0:
        raise RuntimeError(f"load_caller failed ({out.returncode}): {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _table(report: dict[str, Any]) -> str:
    lines = [f"machine: {report['machine']['nproc']} cores, {report['machine']['cpu']}, "
             f"Python {report['machine']['python']}",
             f"generator: {report['generator']}, {report['connections']} connections, "
             f"{report['duration']} s x {report['rounds']} rounds per variant", "",
             f"{'variant':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'x none':>8}{'errors':>8}"]
    for v, r in report["server"]["variants"].items():
        lines.append(f"{v:<18}{r['rps']:>10.1f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
                     f"{r['ratio_to_none']:>8.3f}{r['errors']:>8}")
    if "caller" in report:
        c = report["caller"]
        lines += ["", f"caller: {c['checkouts_ok']}/{c['checkouts_sent']} checkouts in "
                  f"{c['duration_s']} s ({c['achieved_rate']}/s), token lifetime "
                  f"{c['token_lifetime_s']} s: {c['shop_api_token_requests']} shop-api token "
                  f"requests (one per lifetime: {c['expected_max_token_requests']} at most in the "
                  f"{c['window_s']} s window), "
                  f"{c['delivered']} e-mails delivered"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per variant")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--generator", choices=("auto", "wrk", "httpx"), default="auto")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--skip-caller", action="store_true", help="skip the shop-api caller run")
    p.add_argument("--caller-duration", type=float, default=60.0, help="seconds of checkouts")
    p.add_argument("--caller-rate", type=float, default=100.0, help="checkouts per second")
    p.add_argument("--token-lifetime", type=int, default=300,
                   help="shop-api token lifetime in the caller run (seconds)")
    args = p.parse_args(argv)
    if args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "httpx"
    if args.rounds < 1 or not 0 < args.duration <= 120 or not 0 < args.caller_duration <= 600:
        p.error("expected rounds >= 1, 0 < duration <= 120, 0 < caller-duration <= 600")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report: dict[str, Any] = {
        "date": started, "machine": machine(), "generator": args.generator,
        "connections": args.connections, "duration": args.duration, "rounds": args.rounds,
        "command": "python bench/load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "server": server_bench(args)}
    if not args.skip_caller:
        report["caller"] = caller_bench(args)
    print(json.dumps(report) if args.json else _table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
