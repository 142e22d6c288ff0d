"""Before/after in one run: ``bench/verify.py`` and ``bench/caller.py`` on a base revision
(checked out into a temporary worktree) and on this tree, alternated round by round so load
from elsewhere on the machine hits both alike.

    python bench/before_after.py --base <rev> [--rounds 5]

Per round and side: ``verify.py --quick --json``, ``caller.py --quick --json``, and the caller
hot-path loops of ``caller.py`` with floor and token batches interleaved (the paired measure
``verify.py`` uses; ``caller.py`` times the floor and the token in separate runs, which a loaded
machine skews). Printed: the median over rounds of each ratio to its floor, before and after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]

PAIRED = """
import importlib.util, json, statistics, sys
spec = importlib.util.spec_from_file_location("caller_bench", "bench/caller.py")
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
import os, svcauth
assert svcauth.__file__.startswith(os.getcwd()), svcauth.__file__  # this tree's code
source = mod._warm_source()
token, atoken = mod._token_loop(source), mod._atoken_loop(source)
t, a = [], []
for _ in range(60):
    f1 = mod._floor(20_000); tk = token(20_000); f2 = mod._floor(20_000); at = atoken(20_000)
    t.append(tk / f1); a.append(at / f2)
print(json.dumps({"token": statistics.median(t), "atoken": statistics.median(a)}))
"""


def _run(tree: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, *args], cwd=tree, check=True, capture_output=True,
                         text=True, timeout=600).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def _figures(tree: Path) -> dict[str, float]:
    verify = _run(tree, "bench/verify.py", "--quick", "--json")
    caller = _run(tree, "bench/caller.py", "--quick", "--json")
    paired = _run(tree, "-c", PAIRED)
    found: dict[str, float] = {}
    for alg in ("RS256", "PS256", "ES256", "EdDSA"):
        row = verify[alg]
        found[f"verify {alg} uncached / floor"] = row["svcauth_uncached_ratio"]
        found[f"verify {alg} cached / floor"] = row["svcauth_cached_us"] / row["floor_us"]
    found["caller.py token() / floor"] = caller["token_ns"] / caller["floor_ns"]
    found["caller.py atoken() / floor"] = caller["atoken_ns"] / caller["floor_ns"]
    found["paired token() / floor"] = paired["token"]
    found["paired atoken() / floor"] = paired["atoken"]
    for mode in ("threads", "tasks"):
        found[f"token requests, {mode}"] = caller["token_requests"]["svcauth"][mode]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision measured as 'before'")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="svcauth-base-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=HERE,
                       check=True, capture_output=True)
        try:
            rounds: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for _ in range(args.rounds):
                rounds["before"].append(_figures(base))
                rounds["after"].append(_figures(HERE))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=HERE,
                           check=False, capture_output=True)
    print(f"before = {args.base}, after = this tree; median of {args.rounds} alternated rounds")
    for name in rounds["before"][0]:
        before = statistics.median(r[name] for r in rounds["before"])
        after = statistics.median(r[name] for r in rounds["after"])
        print(f"  {name:34s} before {before:8.4f}  after {after:8.4f}  "
              f"after/before {after / before:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
