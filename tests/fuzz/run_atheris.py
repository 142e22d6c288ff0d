"""Run one atheris (libFuzzer) target from ``fuzz_targets.py`` for a bounded time.

    python tests/fuzz/run_atheris.py TARGET --seconds 60 [--work-dir var/fuzz]
    python tests/fuzz/run_atheris.py all --seconds 60      # each target in its own process

The corpus (seeded from ``fuzz_targets.seeds``) and any crash input go to
``<work-dir>/<target>/``; a crash exits non-zero with libFuzzer's report and the input's
path. Turn a crash into a regression test by adding its bytes to ``REGRESSIONS`` in
``test_fuzz_targets.py``. Needs ``pip install atheris`` (3.0 installs on CPython 3.11).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _fuzz_one(name: str, seconds: int, work: Path) -> None:
    import atheris

    sys.path.insert(0, str(HERE))
    with atheris.instrument_imports():
        import fuzz_targets
    check = fuzz_targets.TARGETS[name]
    fuzz_targets.verifier()  # key generation outside the timed inputs
    corpus = work / name / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(fuzz_targets.seeds(name)):
        (corpus / f"seed-{i}").write_bytes(seed)
    argv = [sys.argv[0], str(corpus), f"-max_total_time={seconds}", "-timeout=10",
            "-rss_limit_mb=2048", f"-artifact_prefix={work / name}/", "-print_final_stats=1"]
    atheris.Setup(argv, check)
    atheris.Fuzz()


def main() -> int:
    """Fuzz one target in this process, or every target in its own child process."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("target", help="verifier, authorization, token_response, jwks or all")
    p.add_argument("--seconds", type=int, default=60, help="time budget per target")
    p.add_argument("--work-dir", type=Path, default=REPO / "var" / "fuzz")
    args = p.parse_args()
    if args.target != "all":
        _fuzz_one(args.target, args.seconds, args.work_dir.resolve())
        return 0
    sys.path.insert(0, str(HERE))
    from fuzz_targets import TARGETS

    failed = []
    for name in TARGETS:
        print(f"==> fuzzing {name} for {args.seconds} s", flush=True)
        done = subprocess.run([sys.executable, __file__, name, "--seconds", str(args.seconds),
                               "--work-dir", str(args.work_dir)], check=False)
        if done.returncode != 0:
            failed.append(name)
    print("fuzz: " + (f"crashes in {', '.join(failed)} (inputs under {args.work_dir})"
                      if failed else f"no crash in {len(TARGETS)} targets"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
