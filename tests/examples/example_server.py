"""Starts an example service on a free 127.0.0.1 port, as a user would from its command line.

A free port found by binding port 0 can be taken by another process before the example binds
it: when the example says the address is already in use, it is started again on another one.
Its output goes to a file (never a pipe nobody reads), quoted when it does not start.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import httpx

TRIES = 5
_LOGS: dict[int, IO[bytes]] = {}  # a running example's output file, by pid, closed by stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(argv: Callable[[int], list[str]], *, cwd: Path, env: Mapping[str, str],
          ready: str = "/healthz", timeout: float = 60) -> tuple[subprocess.Popen[bytes], str]:
    """``argv(port)`` started in ``cwd``, once ``GET ready`` answers 200: (process, base URL).

    Raises ``RuntimeError`` with the example's output when it exits or does not answer within
    ``timeout`` seconds, or when every try found its port taken.
    """
    for _ in range(TRIES):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        process = subprocess.Popen(argv(port), cwd=cwd, env=dict(env), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(url + ready, timeout=2).status_code == 200:
                    _LOGS[process.pid] = log
                    return process, url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        stop(process)
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        if "already in use" not in output:
            raise RuntimeError(f"the example did not start within {timeout:.0f} s "
                               f"(exit status {process.returncode}):\n{output[-3000:]}")
    raise RuntimeError(f"no free port for the example after {TRIES} tries")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it does not exit within 10 s; its output file is closed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    log = _LOGS.pop(process.pid, None)
    if log is not None:
        log.close()
