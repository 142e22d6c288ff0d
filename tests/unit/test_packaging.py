"""Two distributions from one repository: the svcauth wheel holds the library alone (no
MockMart module, no ``mockmart`` command), and MockMart's wheel holds MockMart (its
storefront templates included) and depends on svcauth. Built with hatchling, the build
backend both ``pyproject.toml`` files name."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _wheel(root: Path, out: Path) -> zipfile.ZipFile:
    from hatchling.builders.wheel import WheelBuilder

    [built] = list(WheelBuilder(str(root)).build(directory=str(out), versions=["standard"]))
    return zipfile.ZipFile(built)


def _read(wheel: zipfile.ZipFile, suffix: str) -> str:
    [name] = [n for n in wheel.namelist() if n.endswith(suffix)]
    return wheel.read(name).decode()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheels")
    return {"svcauth": _wheel(REPO, out), "mockmart": _wheel(REPO / "mockmart", out)}


def test_svcauth_wheel_holds_the_library_alone(wheels: dict[str, zipfile.ZipFile]) -> None:
    names = wheels["svcauth"].namelist()
    top = {n.split("/", 1)[0] for n in names if not n.startswith("svcauth-")}
    assert top == {"svcauth"}, top
    assert "svcauth/py.typed" in names
    entry_points = _read(wheels["svcauth"], ".dist-info/entry_points.txt")
    assert "svcauth = svcauth._cli:main" in entry_points
    assert "mockmart" not in entry_points
    metadata = _read(wheels["svcauth"], ".dist-info/METADATA")
    assert "aiosmtpd" not in metadata and "psycopg" not in metadata  # MockMart's, not ours


def test_mockmart_wheel_holds_mockmart_and_needs_svcauth(
        wheels: dict[str, zipfile.ZipFile]) -> None:
    names = wheels["mockmart"].namelist()
    top = {n.split("/", 1)[0] for n in names if not n.startswith("mockmart-")}
    assert top == {"mockmart"}, top
    assert "mockmart/system/cli.py" in names
    assert any(n.startswith("mockmart/services/storefront/templates/") and n.endswith(".html")
               for n in names)
    assert "mockmart = mockmart.system.cli:main" in _read(wheels["mockmart"],
                                                   ".dist-info/entry_points.txt")
    requires = [line for line in _read(wheels["mockmart"], ".dist-info/METADATA").splitlines()
                if line.startswith("Requires-Dist:")]
    assert "Requires-Dist: svcauth[amqp,fastapi,otel]" in requires, requires
