"""MockMart fixtures: PostgreSQL from scripts/postgres, SQLite in tmp_path.

PostgreSQL: ``MOCKMART_TEST_DATABASE_URL`` names a server to use; otherwise
``scripts/postgres`` starts a throw-away one (installing Debian's package where it is missing
and we are root). Locally a test needing it is skipped when it cannot be had; with
``CI=true`` it fails instead (CI must run the PostgreSQL tests).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "postgres"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a PostgreSQL server on 127.0.0.1 (its ``postgres`` database)."""
    preset = os.environ.get("MOCKMART_TEST_DATABASE_URL")
    if preset:
        yield preset
        return
    workdir = tmp_path_factory.mktemp("postgres")
    try:
        done = subprocess.run([str(SCRIPT), "start", str(workdir), str(os.getpid())],
                              capture_output=True,
                              text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"scripts/postgres could not run: {exc}")
        return
    if done.returncode != 0:
        _unavailable(done.stderr.strip()[-500:] or f"scripts/postgres exited {done.returncode}")
        return
    try:
        yield done.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(SCRIPT), "stop", str(workdir)], capture_output=True, timeout=60,
                       check=False)


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server, dropped afterwards."""
    import psycopg

    name = "mm_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgres_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in the test's tmp dir."""
    return f"sqlite:///{tmp_path / 'mockmart.db'}"


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One MockMart system (processes on free ports) shared by a module's access tests."""
    from mockmart.stack import Stack, StackOptions

    stack = Stack(StackOptions(run_dir=tmp_path_factory.mktemp("mockmart"), retry_max_delay=1.0))
    with stack:
        yield stack


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start a MockMart system with the given StackOptions fields; stopped after the test."""
    from mockmart.stack import Stack, StackOptions

    started: list[Stack] = []

    def make(**options: Any) -> Stack:
        options.setdefault("run_dir", tmp_path / f"run{len(started)}")
        options.setdefault("retry_max_delay", 1.0)
        stack = Stack(StackOptions(**options))
        started.append(stack)
        return stack.start()

    try:
        yield make
    finally:
        for stack in started:
            stack.stop()
