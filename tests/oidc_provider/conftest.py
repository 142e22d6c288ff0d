"""A standard OpenID Connect provider that is not Keycloak, for the ``oidc_provider`` tests:
panva's ``oidc-provider`` (npm, pinned in ``scripts/oidc-provider``) on 127.0.0.1 with client
credentials and RFC 9068 JWT access tokens, its own signing key, started once per session.

When it cannot be had (no node/npm, npm install failed) the tests skip, except with
``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from oidc_support import CLIENT_METHODS, NOTIFICATION_RESOURCE, RESOURCES, SCRIPT, OidcProvider

from svcauth.keycloak import free_port


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"oidc-provider is required in CI: {reason}", pytrace=False)
    pytest.skip(f"oidc-provider unavailable here: {reason}")


def _wait_ready(issuer: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
            if response.status_code == 200 and response.json().get("issuer") == issuer:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """oidc-provider installed into the cache (once) and running on a free port."""
    try:
        done = subprocess.run([str(SCRIPT), "install"], capture_output=True, text=True,
                              timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"scripts/oidc-provider install could not run: {exc}")
        raise AssertionError("unreachable") from exc
    if done.returncode != 0:
        _unavailable(done.stderr.strip()[-500:] or f"install exited {done.returncode}")
    client_secrets = {client: secrets.token_urlsafe(32) for client in CLIENT_METHODS}
    clients = [{"client_id": client, "client_secret": client_secrets[client],
                "token_endpoint_auth_method": method,
                "scope": "notifications:send webhooks:payment"}
               for client, method in CLIENT_METHODS.items()]
    log = tmp_path_factory.mktemp("oidc-provider") / "oidc-provider.log"
    for _attempt in range(3):  # a free port can be taken meanwhile: try another
        port = free_port()
        issuer = f"http://127.0.0.1:{port}"
        env = {**os.environ, "OIDC_PORT": str(port), "OIDC_CLIENTS": json.dumps(clients),
               "OIDC_RESOURCES": json.dumps(RESOURCES),
               "OIDC_DEFAULT_RESOURCE": NOTIFICATION_RESOURCE}
        with log.open("ab") as out:
            process = subprocess.Popen([str(SCRIPT), "run"], env=env, stdout=out, stderr=out,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            if _wait_ready(issuer, process, 60):
                yield OidcProvider(issuer=issuer, secrets=client_secrets)
                return
        finally:
            _stop(process)
    tail = log.read_text(errors="replace")[-1500:]
    pytest.fail(f"oidc-provider did not start; log tail:\n{tail}", pytrace=False)
