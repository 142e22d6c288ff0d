"""examples/grpc_inventory runs as a user runs it (``python run_example.py [--aio]``): the
embedded provider, inventory-service in its own process, shop-api's and cart-reminder-job's
calls over loopback; every printed outcome is checked exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "grpc_inventory" / "run_example.py"


def _call(method: str, status: str, response: object = None, error: str | None = None) -> dict[str, object]:
    return {"method": method, "status": status, "response": response, "svcauth-error": error}


SHOP_API = [
    _call("Check", "OK", {"sku": "sku-1", "available": 5}),
    _call("Reserve", "OK", {"reserved": True, "by": "shop-api", "available": 3}),
    _call("Reserve", "OK", {"reserved": False, "available": 3}),
    _call("Restock", "PERMISSION_DENIED", error="method_not_configured"),
]
CART_REMINDER_JOB = [
    _call("Check", "UNAUTHENTICATED", error="audience_mismatch"),
    _call("Reserve", "UNAUTHENTICATED", error="audience_mismatch"),
    _call("Reserve", "UNAUTHENTICATED", error="audience_mismatch"),
    _call("Restock", "PERMISSION_DENIED", error="method_not_configured"),
]


@pytest.mark.parametrize("flags", [[], ["--aio"]], ids=["grpc", "grpc.aio"])
def test_grpc_inventory_example_runs_end_to_end(flags: list[str]) -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE), *flags], capture_output=True,
                          text=True, timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("inventory-service on 127.0.0.1:"), lines
    assert lines[0].endswith("(grpc.aio)" if flags else "(grpc)")
    assert lines[1] == "as shop-api:"
    assert [json.loads(x) for x in lines[2:6]] == SHOP_API
    assert lines[6] == "as cart-reminder-job:"
    assert [json.loads(x) for x in lines[7:]] == CART_REMINDER_JOB
    assert "dev-shop-api-secret" not in done.stdout + done.stderr
