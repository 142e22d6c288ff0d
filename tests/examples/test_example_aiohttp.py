"""examples/aiohttp_service runs as a user would run it and prints the expected answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import example_server
import httpx

from svcauth.devidp import DevIdP, load_env_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "aiohttp_service"


def test_aiohttp_example_runs_end_to_end_on_the_embedded_provider() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE / "run_example.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "shop-api: 202 {'queued': True, 'from': 'shop-api'}",
        "shop-api: 202 {'queued': True, 'from': 'shop-api'}",
        "reporting-job: 403 {'error': 'Unauthorized service'}",
        "anonymous: 401 {'error': 'No token provided'}",
        "healthz: 200 {'status': 'ok'}",
        "recorded: [{'order': 'o-1', 'from': 'shop-api'}, {'order': 'o-2', 'from': 'shop-api'}]",
        "token requests: {'reporting-job': 1, 'shop-api': 1}",
    ]


def test_aiohttp_example_service_runs_under_aiohttps_own_command_line() -> None:
    # The command in notification_service.py's docstring, against the embedded provider.
    env = load_env_file(ROOT / "deploy" / "dev.env")
    with DevIdP(ROOT / "deploy" / "keycloak" / "techstore-realm.json", env=env) as idp:
        process, url = example_server.start(
            lambda port: [sys.executable, "-m", "aiohttp.web", "-H", "127.0.0.1", "-P", str(port),
                          "notification_service:make_app"],
            cwd=EXAMPLE, env={**os.environ, "OIDC_ISSUER": idp.issuer}, timeout=30)
        try:
            health = httpx.get(url + "/healthz", timeout=10)
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            refused = httpx.post(url + "/api/notifications/order", json={"orderId": "o-1"})
            assert (refused.status_code, refused.json()) == (401, {"error": "No token provided"})
            assert refused.headers["www-authenticate"] == 'Bearer realm="techstore"'
        finally:
            example_server.stop(process)
