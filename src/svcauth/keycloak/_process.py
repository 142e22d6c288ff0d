"""Process plumbing for a local Keycloak: free ports (and a start retried when one was taken
meanwhile), stopping a process group, a watchdog that stops it when its owner dies, and the
group's memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from svcauth._errors import SvcAuthError

T = TypeVar("T")

# Reads stdin until EOF (its parent died or closed the pipe), then stops the process group.
_WATCHDOG = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
pgid = int(sys.argv[1])
sys.stdin.buffer.read()
def alive():
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True
if alive():
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + float(sys.argv[2])
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive():
        os.killpg(pgid, signal.SIGKILL)
"""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the usual small race applies)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def retry_taken_port(start: Callable[[], T], *, code: str, retry: bool,
                     before_retry: Callable[[], None]) -> T:
    """``start()``; when it fails with the error ``code`` (a port taken by someone else
    between :func:`free_port` and the server's bind) and ``retry`` (the ports are chosen,
    not given), ``before_retry()`` then ``start()`` again, at most 3 tries in all."""
    attempts = 3 if retry else 1
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except SvcAuthError as exc:
            if exc.code != code or attempt == attempts:
                raise
            before_retry()
    raise AssertionError("unreachable")


def spawn_watchdog(pgid: int, timeout: float) -> subprocess.Popen[bytes]:
    """Start a watchdog for process group ``pgid``: when its stdin closes (the caller closed it
    or died, even by SIGKILL), it SIGTERMs the group and SIGKILLs it after ``timeout``."""
    return subprocess.Popen(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", _WATCHDOG, str(pgid), str(timeout)],
        stdin=subprocess.PIPE, start_new_session=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate_group(pgid: int, timeout: float,
                    process: subprocess.Popen[bytes] | None = None) -> bool:
    """SIGTERM a process group, SIGKILL it after ``timeout``; True if it ended on SIGTERM."""
    if not _group_alive(pgid):
        return True
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            process.poll()  # reap the leader so the group can disappear
        if not _group_alive(pgid):
            return True
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    if process is not None:
        process.wait()
    return False


def group_rss_bytes(pgid: int) -> int:
    """Sum of ``VmRSS`` over the processes of group ``pgid`` (Linux), in bytes."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total
