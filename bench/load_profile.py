"""Where a load_app variant's time goes under wrk load: runs the server under pyinstrument.

    pip install pyinstrument                     # into .venv, for this run only
    python bench/load_profile.py svcauth --duration 10 > profile.txt

Starts the DevIdP in this process, the variant (``bench/load_app.py``) in a child under
``pyinstrument``, drives it with wrk (one thread, 32 connections) and prints the profile
text pyinstrument writes when the server is interrupted.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))

from load import DEV_ENV, REALM, free_port, run_wrk  # noqa: E402

from svcauth.devidp import DevIdP, load_env_file  # noqa: E402


def main() -> int:
    """Profile one variant; print pyinstrument's text report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("variant")
    p.add_argument("--duration", type=float, default=10.0)
    args = p.parse_args()
    idp = DevIdP(REALM, env=load_env_file(DEV_ENV)).start()
    try:
        token = idp.mint_token("shop-api", lifetime=3600)
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "profile.txt"
            proc = subprocess.Popen(
                [sys.executable, "-m", "pyinstrument", "-o", str(out), "--show-all",
                 str(HERE / "load_app.py"), args.variant, str(port), idp.issuer, idp.jwks_uri],
                env={**os.environ, "PYTHONPATH": str(REPO / "src")})
            url = f"http://127.0.0.1:{port}/api/notifications"
            time.sleep(3)
            figures = run_wrk(url, token, duration=args.duration, connections=32)
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
            print(f"# {args.variant}: {figures}")
            print(out.read_text())
    finally:
        idp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
