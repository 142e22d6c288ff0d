"""Getting a Keycloak distribution onto this machine: fetch with Maven, unpack once, pick Java.

The archive is ``org.keycloak:keycloak-quarkus-dist:<version>:tar.gz`` from Maven Central (the
pom's packaging is ``pom``; the distribution is selected by type, without classifier). It lands in
a cache directory outside git, ``~/.cache/svcauth/keycloak/<version>/`` unless
``SVCAUTH_KEYCLOAK_CACHE`` says otherwise, and is unpacked there once into ``dist/``. A file lock
makes concurrent first runs (two test sessions, ``scripts/keycloak fetch`` beside pytest) safe.

Failures raise :class:`svcauth.SvcAuthError` with code ``keycloak_unavailable``: Keycloak cannot
be had here (no Maven, no Java, download failed), as opposed to a Keycloak that fails to start.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from svcauth._errors import SvcAuthError
from svcauth._maven import MavenArtifact, fetch_artifact, locked

DEFAULT_VERSION = "26.7.3"
"""The pinned Keycloak version (runs on Java 25 here)."""

FALLBACK_VERSION = "26.5.6"
"""The fall-back version for machines without Java 21+ (runs on Java 17, deprecated there)."""

JAVA_25_HOME = "/usr/lib/jvm/temurin-25-jdk-amd64"
JAVA_17_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"

UNAVAILABLE = "keycloak_unavailable"
"""Error code: Keycloak cannot be had on this machine (no Maven, no Java, download failed)."""

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """The cache directory: ``$SVCAUTH_KEYCLOAK_CACHE`` or ``~/.cache/svcauth/keycloak``."""
    env = os.environ if env is None else env
    configured = env.get("SVCAUTH_KEYCLOAK_CACHE", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache/svcauth/keycloak"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def java_home_for(version: str, env: Mapping[str, str] | None = None) -> Path:
    """The JDK to run ``version`` with: ``$SVCAUTH_KEYCLOAK_JAVA_HOME`` if set, else Java 25 for
    Keycloak 26.6 and later (first release supporting it), Java 17 before.

    Raises ``SvcAuthError(code="keycloak_unavailable")`` when that JDK has no ``bin/java``.
    """
    env = os.environ if env is None else env
    configured = env.get("SVCAUTH_KEYCLOAK_JAVA_HOME", "").strip()
    if configured:
        home = Path(configured)
    else:
        home = Path(JAVA_25_HOME if _version_tuple(version) >= (26, 6) else JAVA_17_HOME)
    if not (home / "bin" / "java").is_file():
        raise SvcAuthError(f"Keycloak {version}: expected a JDK at {home}, found no bin/java "
                           "(set SVCAUTH_KEYCLOAK_JAVA_HOME)", code=UNAVAILABLE)
    return home


@dataclass(frozen=True)
class Distribution:
    """An unpacked Keycloak distribution, shared read-only by every instance."""

    version: str
    """The Keycloak version, e.g. ``26.7.3``."""
    home: Path
    """The unpacked directory (holds ``bin/kc.sh``, ``lib/``, ``conf/``); never written to."""
    java_home: Path
    """The JDK to run it with (``JAVA_HOME``)."""

    @property
    def cache_dir(self) -> Path:
        """The per-version cache directory holding the archive, ``dist/`` and ``runs/``."""
        return self.home.parent


def archive_name(version: str) -> str:
    """The file name Maven copies: ``keycloak-quarkus-dist-<version>.tar.gz``."""
    return _artifact(version).file_name


def _artifact(version: str) -> MavenArtifact:
    return MavenArtifact("org.keycloak", "keycloak-quarkus-dist", version, type="tar.gz")


def fetch_archive(version: str, target_dir: Path, progress: Progress = _quiet) -> Path:
    """Download the distribution archive into ``target_dir`` with Maven, unless it is there.

    Maven's transfer lines and a byte count every few seconds go to ``progress``.
    """
    return fetch_artifact(_artifact(version), target_dir, what=f"Keycloak {version}",
                          code=UNAVAILABLE, progress=progress)


def unpack(archive: Path, dest: Path, progress: Progress = _quiet) -> Path:
    """Unpack ``archive`` (one top directory) into ``dest`` atomically; return ``dest``."""
    if (dest / "bin" / "kc.sh").is_file():
        return dest
    staging = dest.parent / f".unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    started = time.monotonic()
    progress(f"unpacking {archive.name}")
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    tops = [entry for entry in staging.iterdir() if entry.is_dir()]
    if len(tops) != 1 or not (tops[0] / "bin" / "kc.sh").is_file():
        shutil.rmtree(staging, ignore_errors=True)
        raise SvcAuthError(f"Keycloak archive {archive.name}: expected one directory with "
                           "bin/kc.sh, found something else", code=UNAVAILABLE)
    shutil.rmtree(dest, ignore_errors=True)
    tops[0].rename(dest)
    shutil.rmtree(staging, ignore_errors=True)
    progress(f"unpacked into {dest} in {time.monotonic() - started:.1f} s")
    return dest


def ensure_distribution(version: str = DEFAULT_VERSION, *, cache: Path | None = None,
                        env: Mapping[str, str] | None = None,
                        progress: Progress = _quiet) -> Distribution:
    """Fetch (once) and unpack (once) Keycloak ``version``; return it with its JDK.

    Example::

        dist = ensure_distribution(progress=print)
        print(dist.home, dist.java_home)
    """
    java_home = java_home_for(version, env)
    version_dir = (cache or cache_root(env)) / version
    with locked(version_dir / ".lock"):
        archive = fetch_archive(version, version_dir, progress)
        home = unpack(archive, version_dir / "dist", progress)
    return Distribution(version=version, home=home, java_home=java_home)
