"""The ``mockmart`` commands as a user runs them: ``demo --json`` end to end, ``up`` until
Ctrl-C, ``--idp keycloak`` refused cleanly; none leaves a process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mockmart.system.demo import CHECKOUTS, expected_refusals

SHOP_API_CLAIM_FIELDS = ("azp", "client_id", "preferred_username", "resource_access")


def _shop_api_token_claims(report: dict[str, object]) -> tuple[object, ...]:
    """The demo's ``shop_api_token_claims`` on the fields the realm decides (``aud`` as a
    set: Keycloak lists the audiences in any order)."""
    claims = report["shop_api_token_claims"]
    assert isinstance(claims, dict)
    return (*(claims[name] for name in SHOP_API_CLAIM_FIELDS), set(claims["aud"]),
            claims["exp"] - claims["iat"])


EXPECTED_SHOP_API_CLAIMS = (
    "shop-api", "shop-api", "service-account-shop-api",
    {"notification-service": {"roles": ["notifications:send"]},
     "rabbitmq": {"roles": ["rabbitmq.write:*/orders"]},
     "inventory-service": {"roles": ["inventory:read", "inventory:reserve"]},
     "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]}},
    {"notification-service", "rabbitmq", "inventory-service", "account"}, 300)


def _mockmart_processes_using(marker: str) -> list[int]:
    """pids of live ``mockmart.system.cli`` processes whose environment mentions ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"mockmart" in cmdline and marker.encode() in environ + cmdline:
            found.append(int(proc.name))
    return found


@pytest.mark.slow
def test_demo_json_reports_every_expectation_and_leaves_nothing_running(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "mockmart.system.cli", "demo", "--json",
                           "--no-broker", "--run-dir", str(run_dir)], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["checkouts"] == CHECKOUTS
    assert (report["emails_delivered"], report["reminder_emails"]) == (CHECKOUTS, 1)
    assert report["duplicate_emails"] == 0
    assert report["idp_token_requests"]["shop-api"] == 1
    assert report["idp_token_requests"]["inventory-sync"] == 1  # it read the log
    assert report["notifications_listed"] == {"reader": "inventory-sync", "status": 200,
                                              "count": CHECKOUTS}
    assert _shop_api_token_claims(report) == EXPECTED_SHOP_API_CLAIMS
    assert report["jwks_fetches"]["notification-service"] == 1
    assert {name: (r["status"], r["error"]) for name, r in report["refusals"].items()} == (
        expected_refusals())
    assert report["expectations_failed"] == []
    assert "starting MockMart: shop-api" in done.stderr
    assert _mockmart_processes_using(str(run_dir)) == []


@pytest.mark.slow
def test_up_serves_until_interrupted_then_stops_everything(tmp_path: Path) -> None:
    run_dir = tmp_path / "up"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockmart.system.cli", "up", "--idp-port", "0", "--shop-port", "0",
         "--notification-port", "0", "--smtp-port", "0", "--run-dir", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(lines)
        shop = re.search(r"shop-api\s+(http://127\.0\.0\.1:\d+)", text)
        assert shop is not None, text
        assert "grant_type=client_credentials" in text
        assert httpx.get(shop.group(1) + "/healthz", timeout=5).json()["status"] == "ok"
        assert _mockmart_processes_using(str(run_dir)) != []
        proc.send_signal(signal.SIGINT)
        try:  # every child stops side by side, each SIGKILLed past its 10 s
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"mockmart up still running 60 s after Ctrl-C:\n"
                                 f"{proc.communicate()[1][-3000:]}") from None
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10  # the service groups' children get SIGKILL, asynchronously
    while _mockmart_processes_using(str(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _mockmart_processes_using(str(run_dir)) == []


@pytest.mark.keycloak
@pytest.mark.slow
def test_demo_runs_the_same_story_against_a_real_keycloak(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo-kc"
    done = subprocess.run([sys.executable, "-m", "mockmart.system.cli", "demo", "--idp", "keycloak",
                           "--json", "--no-broker", "--run-dir", str(run_dir)], capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0 and "keycloak_unavailable" in done.stderr and os.environ.get(
            "CI", "").lower() not in ("1", "true", "yes"):
        pytest.skip("Keycloak cannot be had here")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert (report["checkouts"], report["emails_delivered"], report["duplicate_emails"]) == (
        CHECKOUTS, CHECKOUTS, 0)
    assert report["idp_token_requests"] == {"shop-api": 1}  # counted by shop-api itself
    assert report["notifications_listed"] == {"reader": "inventory-sync", "status": 200,
                                              "count": CHECKOUTS}
    assert _shop_api_token_claims(report) == EXPECTED_SHOP_API_CLAIMS
    expected = expected_refusals()
    del expected["expired_token"]  # Keycloak cannot mint an expired token on demand
    got = {name: (r["status"], r["error"]) for name, r in report["refusals"].items()
           if "skipped" not in r}
    assert got == expected
    assert _mockmart_processes_using(str(run_dir)) == []


def test_cart_reminder_job_fails_cleanly_without_notification_service(tmp_path: Path) -> None:
    env = {**os.environ, "NOTIFICATION_URL": "http://127.0.0.1:9", "KEYCLOAK_URL":
           "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "mockmart.system.cli", "job", "cart-reminders"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "dev-cart-reminder-job-secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_children_stop_when_the_process_that_started_them_dies(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from mockmart.system.processes import ServiceProcess, wait_smtp\n"
        f"p = ServiceProcess('smtp', ['smtp-sink', '--mail-dir', {str(tmp_path / 'mail')!r}],"
        f" env={{}}, log_path=Path({str(tmp_path / 'sink.log')!r})).start()\n"
        "wait_smtp(p.port, process=p)\n"
        "print(p.pid, flush=True)\n"
        "os._exit(0)\n")  # dies without stopping its child
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    child = int(done.stdout.strip())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists()
