"""A Zipkin server on 127.0.0.1, without Docker: MockMart's tracing UI.

``io.zipkin:zipkin-server:<version>:jar:exec`` is fetched once with Maven into
``~/.cache/svcauth/zipkin/<version>/`` (``SVCAUTH_ZIPKIN_CACHE`` overrides), then run with the
machine's Java (17 or later) and in-memory storage, its one HTTP port bound to 127.0.0.1 only
(Zipkin 3 serves through Armeria, which ignores ``--server.address``; its port list is set
instead). The UI is at ``/zipkin/``, spans go in at ``POST /api/v2/spans`` and a trace comes
back from ``GET /api/v2/trace/{id}``. A watchdog stops the server when its owner dies.

::

    with ZipkinServer(progress=print) as zipkin:
        print(zipkin.ui_url)
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from svcauth import SvcAuthError
from svcauth.keycloak import (
    MavenArtifact,
    cache_lock,
    fetch_maven_artifact,
    free_port,
    retry_taken_port,
    spawn_watchdog,
    terminate_group,
)

__all__ = ["DEFAULT_VERSION", "UNAVAILABLE", "ZipkinConfig", "ZipkinServer"]

DEFAULT_VERSION = "3.6.1"
"""The pinned Zipkin server version."""

UNAVAILABLE = "zipkin_unavailable"
"""Error code: Zipkin cannot be had here (no Maven, no Java, download failed)."""

START_FAILED = "zipkin_start_failed"
"""Error code: Zipkin was there but did not become healthy."""

PORT_IN_USE = "zipkin_port_in_use"
"""Error code: Zipkin's port was taken (with a chosen port, after the retries)."""

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def cache_root() -> Path:
    """``$SVCAUTH_ZIPKIN_CACHE`` or ``~/.cache/svcauth/zipkin``."""
    configured = os.environ.get("SVCAUTH_ZIPKIN_CACHE", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache/svcauth/zipkin"


def ensure_jar(version: str = DEFAULT_VERSION, progress: Progress = _quiet) -> Path:
    """Fetch (once) Zipkin's executable jar; its path."""
    directory = cache_root() / version
    with cache_lock(directory / ".lock"):
        return fetch_maven_artifact(MavenArtifact("io.zipkin", "zipkin-server", version,
                                            classifier="exec"),
                              directory, what=f"Zipkin {version}", code=UNAVAILABLE,
                              progress=progress)


@dataclass(frozen=True)
class ZipkinConfig:
    """How to run one Zipkin server."""

    version: str = DEFAULT_VERSION
    """Zipkin server version."""
    port: int = 0
    """HTTP port on 127.0.0.1 (UI, API, span intake); 0 picks a free one."""
    heap: str = "-Xmx256m"
    """Java heap option (in-memory storage keeps at most ``max_spans``)."""
    max_spans: int = 200_000
    """In-memory storage bound (``MEM_MAX_SPANS``)."""
    start_timeout: float = 180.0
    """Seconds to wait for ``/health`` (about 13 s when the machine is idle)."""


class ZipkinServer:
    """One Zipkin process: fetch, start, wait for health, stop. A context manager."""

    def __init__(self, config: ZipkinConfig | None = None, *, progress: Progress = _quiet) -> None:
        self.config = config or ZipkinConfig()
        self._progress = progress
        self._process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.startup_seconds: float | None = None
        """Seconds from launch to healthy, once started."""
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        """The web UI."""
        return f"{self.url}/zipkin/"

    @property
    def spans_url(self) -> str:
        """Zipkin's v2 span intake (``OTEL_EXPORTER_ZIPKIN_ENDPOINT``)."""
        return f"{self.url}/api/v2/spans"

    def trace_ui_url(self, trace_id: str) -> str:
        """The UI page of one trace."""
        return f"{self.url}/zipkin/traces/{trace_id}"

    def start(self) -> ZipkinServer:
        """Fetch if needed, launch, wait until healthy.

        With a chosen port (``port=0``), a port taken by someone else between choosing and
        binding it is retried twice on new ports.
        """
        java = shutil.which("java")
        if java is None:
            raise SvcAuthError("Zipkin: expected 'java' (17 or later) on PATH, found none",
                               code=UNAVAILABLE)
        jar = ensure_jar(self.config.version, self._progress)
        atexit.register(self.stop)
        return retry_taken_port(
            lambda: self._start_once(java, jar), code=PORT_IN_USE, retry=not self.config.port,
            before_retry=lambda: self._progress("  the port was taken meanwhile; retrying on a new one"))

    def _start_once(self, java: str, jar: Path) -> ZipkinServer:
        self.port = self.config.port or free_port()
        self.log_path = jar.parent / f"zipkin-{self.port}.log"
        command = [java, self.config.heap, "-XX:TieredStopAtLevel=1", "-jar", str(jar),
                   "--armeria.ports[0].ip=127.0.0.1", f"--armeria.ports[0].port={self.port}",
                   "--armeria.ports[0].protocols[0]=http"]
        env = {**os.environ, "STORAGE_TYPE": "mem", "MEM_MAX_SPANS": str(self.config.max_spans),
               "QUERY_PORT": str(self.port)}
        self._progress(f"starting Zipkin {self.config.version} on {self.url} (log {self.log_path})")
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            # A fixed command: the machine's java, our cached jar, our own port.
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,  # noqa: S603
                                             stderr=subprocess.STDOUT, env=env,
                                             start_new_session=True)
        self._watchdog = spawn_watchdog(self._process.pid, 10.0)
        self._wait_healthy(started)
        self.startup_seconds = time.monotonic() - started
        self._progress(f"Zipkin ready in {self.startup_seconds:.1f} s: UI {self.ui_url}")
        return self

    def _wait_healthy(self, started: float) -> None:
        assert self._process is not None
        deadline = started + self.config.start_timeout
        last_say = started
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                assert self.log_path is not None
                taken = "Address already in use" in self.log_path.read_text(errors="replace")
                raise SvcAuthError(f"Zipkin exited with code {self._process.returncode} before "
                                   f"it was healthy"
                                   f"{f' (port {self.port} already in use)' if taken else ''}; "
                                   f"see {self.log_path}",
                                   code=PORT_IN_USE if taken else START_FAILED)
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() - last_say >= 5:
                last_say = time.monotonic()
                self._progress(f"  ... starting, {last_say - started:.0f} s")
            time.sleep(0.25)
        self.stop()
        raise SvcAuthError(f"Zipkin: expected /health within {self.config.start_timeout:g} s, "
                           f"found none; see {self.log_path}", code=START_FAILED)

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of one trace (``[]`` when Zipkin has none yet)."""
        response = httpx.get(f"{self.url}/api/v2/trace/{trace_id}", timeout=5.0)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        spans: list[dict[str, Any]] = response.json()
        return spans

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._process is not None and self._process.poll() is None:
            terminate_group(self._process.pid, 10.0, self._process)
        if self._watchdog is not None:
            if self._watchdog.stdin is not None:
                self._watchdog.stdin.close()
            self._watchdog.wait()
            self._watchdog = None

    def __enter__(self) -> ZipkinServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
