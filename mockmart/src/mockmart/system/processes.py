"""Running MockMart's services as real child processes on 127.0.0.1.

The parent binds each listening socket itself (port 0 = a free port, no race between
choosing a port and binding it) and hands the descriptor to the child (``--fd``); the child
serves on it. Stopping is SIGTERM (uvicorn drains in-flight requests), then SIGKILL after a
grace period; every child is in its own process group so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

__all__ = ["ServiceProcess", "listen_socket", "wait_http", "wait_smtp"]


def listen_socket(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket on ``host:port`` that a child process can inherit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(256)
    sock.set_inheritable(True)
    return sock


class ServiceProcess:
    """One child process serving on a socket the parent bound (see the module docstring).

    ``argv`` is the ``mockmart`` sub-command (without the program), ``--fd N`` is appended.
    Output goes to ``log_path``. ``start()`` after ``stop()`` rebinds the same port.
    """

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str],
                 log_path: Path, port: int = 0) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        """True while the child is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ServiceProcess:
        """Bind the port (the same one again after a stop) and start the child on it."""
        sock = None
        for _ in range(50):  # after a stop the old socket may take a moment to go away
            try:
                sock = listen_socket(self.port)
                break
            except OSError:
                time.sleep(0.1)
        if sock is None:
            raise RuntimeError(f"{self.name}: cannot bind 127.0.0.1:{self.port}")
        self.port = sock.getsockname()[1]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-m", "mockmart.system.cli", *self.argv, "--fd", str(sock.fileno()),
                "--exit-with-parent"]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter, our argv)
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                pass_fds=(sock.fileno(),), start_new_session=True)
        sock.close()
        return self

    def terminate(self) -> None:
        """SIGTERM the process group without waiting (:meth:`stop` waits), so that a stack
        stops its children side by side rather than one graceful shutdown after another."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL the process group; the exit code."""
        self.terminate()
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        # Anything the child itself started is in its group: make sure it is gone too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the child's output (for error messages)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_http(url: str, *, timeout: float = 30.0, process: ServiceProcess | None = None) -> None:
    """Poll ``url`` until it answers 200; RuntimeError on timeout or if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.running():
            raise RuntimeError(f"{process.name} exited during start-up:\n{process.log_tail()}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not healthy after {timeout:.0f}s")
        time.sleep(0.05)


def wait_smtp(port: int, *, timeout: float = 30.0, process: ServiceProcess | None = None) -> None:
    """Wait until an SMTP server greets (220) on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.running():
            raise RuntimeError(f"{process.name} exited during start-up:\n{process.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as conn:
                if conn.recv(3) == b"220":
                    conn.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"SMTP on port {port} not ready after {timeout:.0f}s")
        time.sleep(0.05)
