"""Starts an example service on a free 127.0.0.1 port, as a user would from its command line.

A free port found by binding port 0 can be taken by another process before the example binds
it: when the example says the address is already in use, it is started again on another one.
Its output goes to an unnamed temporary file (never a pipe nobody reads), quoted when it does
not start; once it answers, only the example holds that file, which goes when it exits.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from svcauth.keycloak import free_port

TRIES = 5


def start(argv: Callable[[int], list[str]], *, cwd: Path, env: Mapping[str, str],
          ready: str = "/healthz", timeout: float = 60) -> tuple[subprocess.Popen[bytes], str]:
    """``argv(port)`` started in ``cwd``, once ``GET ready`` answers 200: (process, base URL).

    Raises ``RuntimeError`` with the example's output when it exits or does not answer within
    ``timeout`` seconds, or when every try found its port taken.
    """
    for _ in range(TRIES):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryFile() as log:
            process = subprocess.Popen(argv(port), cwd=cwd, env=dict(env), stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(url + ready, timeout=2).status_code == 200:
                        return process, url
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            exited = process.poll() is not None
            stop(process)
            log.seek(0)
            output = log.read().decode(errors="replace")
        if "already in use" not in output:
            why = (f"exited with status {process.returncode}" if exited
                   else f"did not answer {ready} within {timeout:.0f} s")
            raise RuntimeError(f"the example {why}:\n{output[-3000:]}")
    raise RuntimeError(f"no free port for the example after {TRIES} tries")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it does not exit within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
