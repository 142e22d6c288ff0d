"""A private home directory per running Keycloak, cheap to make, never shared.

Keycloak keeps mutable state under its home: ``kc.sh start-dev`` re-augments into
``lib/quarkus/`` when build options (``--http-relative-path``, ``--health-enabled``, ``--db``)
differ from the last build, and reads imports from and writes transaction logs to ``data/``.
Keycloak has no option to move those, so two instances (one with ``/auth``) must not share a
home. An instance home copies the small mutable parts (~20 MB) and links the 168 MB of jars in
``lib/lib`` read-only from the shared distribution.

Re-augmentation costs ~20 s on two cores. After a good start the augmented ``lib/quarkus`` is kept
as a template per set of build options, so the next instance with the same options starts warm.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from svcauth.keycloak._dist import Distribution

_COPIED = ("bin/kc.sh", "conf", "providers", "themes", "lib/app", "lib/quarkus-run.jar")


def build_key(build_options: Sequence[str]) -> str:
    """A short stable name for a set of build-time options (order does not matter)."""
    digest = hashlib.sha256("\n".join(sorted(build_options)).encode("utf-8")).hexdigest()
    return digest[:16]


def _template_dir(dist: Distribution, key: str) -> Path:
    return dist.cache_dir / "augmented" / key


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_homes(runs_dir: Path) -> list[Path]:
    """Remove instance homes whose owner process is gone; return what was removed."""
    removed: list[Path] = []
    if not runs_dir.is_dir():
        return removed
    for home in runs_dir.iterdir():
        owner = home / "owner.pid"
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            continue
        if not _pid_alive(pid):
            shutil.rmtree(home, ignore_errors=True)
            removed.append(home)
    return removed


def create_home(dist: Distribution, realm_files: Sequence[Path], key: str,
                owner_pid: int | None = None) -> Path:
    """Make a fresh instance home under ``<cache>/<version>/runs/`` and return it.

    ``realm_files`` are copied unchanged into its ``data/import``; ``key`` (see
    :func:`build_key`) picks an already augmented ``lib/quarkus`` when one was saved.
    ``owner_pid`` (default: this process) lets :func:`sweep_stale_homes` clean up after a crash.
    """
    runs_dir = dist.cache_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale_homes(runs_dir)
    home = Path(tempfile.mkdtemp(prefix="kc-", dir=runs_dir))
    (home / "owner.pid").write_text(f"{owner_pid or os.getpid()}\n")
    for relative in _COPIED:
        _copy(dist.home / relative, home / relative)
    (home / "lib" / "lib").symlink_to(dist.home / "lib" / "lib", target_is_directory=True)
    template = _template_dir(dist, key)
    _copy(template if template.is_dir() else dist.home / "lib" / "quarkus", home / "lib" / "quarkus")
    imports = home / "data" / "import"
    imports.mkdir(parents=True)
    for realm_file in realm_files:
        shutil.copy2(realm_file, imports / Path(realm_file).name)
    return home


def has_template(dist: Distribution, key: str) -> bool:
    """Whether an augmented ``lib/quarkus`` was saved for these build options."""
    return _template_dir(dist, key).is_dir()


def save_template(dist: Distribution, home: Path, key: str) -> bool:
    """Keep ``home``'s augmented ``lib/quarkus`` for the next instance; False if one exists."""
    template = _template_dir(dist, key)
    if template.is_dir():
        return False
    template.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=template.parent))
    shutil.copytree(home / "lib" / "quarkus", staging / "quarkus")
    try:
        (staging / "quarkus").rename(template)
    except OSError:  # another instance saved the same template first
        shutil.rmtree(staging, ignore_errors=True)
        return False
    with contextlib.suppress(OSError):
        staging.rmdir()
    return True


def remove_home(home: Path) -> None:
    """Delete an instance home (its ``lib/lib`` link, not the shared jars)."""
    shutil.rmtree(home, ignore_errors=True)
