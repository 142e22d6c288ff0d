"""Fetching one file from Maven Central with the machine's ``mvn``, with progress.

Local servers that the tests and MockMart run without Docker come from Maven Central: Keycloak
(``svcauth.keycloak``) and the Zipkin tracing server (``mockmart.system.zipkin``). Each lands once in a
cache directory outside git; a file lock makes concurrent first runs safe, and a byte count every
few seconds shows that a long download is alive.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._errors import SvcAuthError

__all__ = ["MavenArtifact", "fetch_artifact", "locked"]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class MavenArtifact:
    """``group:artifact:version`` plus Maven's type and classifier (``tar.gz``, ``jar:exec``)."""

    group: str
    """Group id, e.g. ``org.keycloak``."""
    artifact: str
    """Artifact id, e.g. ``keycloak-quarkus-dist``."""
    version: str
    """Version, e.g. ``26.7.3``."""
    type: str = "jar"
    """Packaging type (``jar``, ``tar.gz``)."""
    classifier: str = ""
    """Classifier (``exec`` for Zipkin's runnable jar); empty for none."""

    @property
    def coordinates(self) -> str:
        """What ``dependency:copy -Dartifact=`` takes."""
        tail = f":{self.classifier}" if self.classifier else ""
        return f"{self.group}:{self.artifact}:{self.version}:{self.type}{tail}"

    @property
    def file_name(self) -> str:
        """The name Maven copies the file under."""
        tail = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{tail}.{self.type}"

    @property
    def local_repository_dir(self) -> Path:
        """Where Maven's own repository keeps it (watched for the byte count)."""
        return (Path.home() / ".m2/repository" / self.group.replace(".", "/") / self.artifact
                / self.version)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _dir_bytes(directory: Path) -> int:
    try:
        return sum(entry.stat().st_size for entry in directory.iterdir() if entry.is_file())
    except OSError:
        return 0


def _ticker(stop: threading.Event, progress: Progress, watch: Path, started: float) -> None:
    while not stop.wait(3.0):
        got = _dir_bytes(watch)
        size = f", {got / 1e6:.0f} MB so far" if got else ""
        progress(f"  ... downloading, {time.monotonic() - started:.0f} s{size}")


def fetch_artifact(artifact: MavenArtifact, target_dir: Path, *, what: str, code: str,
                   progress: Progress = _quiet) -> Path:
    """Copy ``artifact`` into ``target_dir`` with Maven unless it is there; return its path.

    ``what`` names it in messages ("Keycloak 26.7.3"); failures raise :class:`SvcAuthError`
    with ``code``. Maven's lines about the artifact and a byte count every few seconds go to
    ``progress``.
    """
    target = target_dir / artifact.file_name
    if target.is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SvcAuthError(f"{what} download: expected Maven ('mvn') on PATH, found none",
                           code=code)
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = target_dir / f".download-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    command = [mvn, "-B", "dependency:copy", f"-Dartifact={artifact.coordinates}",
               f"-DoutputDirectory={staging}"]
    progress(f"fetching {what} with Maven into {target_dir}")
    started = time.monotonic()
    stop = threading.Event()
    ticker = threading.Thread(target=_ticker, daemon=True,
                              args=(stop, progress, artifact.local_repository_dir, started))
    ticker.start()
    tail: list[str] = []
    try:
        # The command is fixed here; only the coordinates and our own directory vary.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                                   text=True, errors="replace")
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            tail = [*tail[-19:], line]
            if artifact.artifact in line or "ERROR" in line or "BUILD" in line:
                progress(f"  mvn: {line}")
        exit_code = process.wait()
    finally:
        stop.set()
        ticker.join()
    fetched = staging / artifact.file_name
    if exit_code != 0 or not fetched.is_file():
        shutil.rmtree(staging, ignore_errors=True)
        detail = "\n".join(tail[-8:])
        raise SvcAuthError(f"{what} download: expected Maven to fetch {target.name}, "
                           f"found exit code {exit_code}:\n{detail}", code=code)
    fetched.replace(target)
    shutil.rmtree(staging, ignore_errors=True)
    size = target.stat().st_size
    progress(f"fetched {target.name}: {size / 1e6:.0f} MB in {time.monotonic() - started:.1f} s")
    return target
