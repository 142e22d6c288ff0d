"""examples/testing_sample is a user project with its own tests on the svcauth pytest
plugin: run them as its users would (``pytest`` in that directory, a fresh process that
loads the plugin from the installed entry point) and require every one of them to pass."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testing_sample"
EXPECTED = {
    "tests.test_invoices": 19,
    "tests.test_with_local_provider": 5,
}


def test_sample_project_tests_all_pass(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=SAMPLE, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": str(sum(EXPECTED.values())), "failures": "0", "errors": "0", "skipped": "0"}
    per_module: dict[str, int] = {}
    for case in suite.iter("testcase"):
        name = case.get("classname", "")
        per_module[name] = per_module.get(name, 0) + 1
    assert per_module == EXPECTED
