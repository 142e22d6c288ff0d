"""LocalKeycloak's lifecycle against a stand-in ``kc.sh`` (a small Python HTTP server that
answers health and discovery as Keycloak does): readiness, endpoints, clean stop, failure with
the log tail, retry on a port taken meanwhile, warm start from a saved augmentation.
No Java and no Keycloak needed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from svcauth._errors import SvcAuthError
from svcauth.keycloak import KeycloakConfig, LocalKeycloak

FAKE_KC = '''#!{python}
import json, os, signal, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
args = dict(a[2:].split("=", 1) for a in sys.argv[2:] if a.startswith("--") and "=" in a)
mode = os.environ.get("FAKE_KC_MODE", "ok")
print("fake keycloak", sys.argv[1:], flush=True)
if mode == "crash":
    print("ERROR: boom, realm import failed", flush=True)
    sys.exit(1)
if mode == "port_once" and not os.path.exists(os.environ["FAKE_KC_MARKER"]):
    open(os.environ["FAKE_KC_MARKER"], "w").close()
    print("ERROR: Port already bound: 1: Address already in use", flush=True)
    sys.exit(1)
rel = args.get("http-relative-path", "")
issuer = args["hostname"] + "/realms/techstore"
if mode == "wrong_issuer":
    issuer = "http://elsewhere/realms/techstore"
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        docs = {{rel + "/health/ready": {{"status": "UP"}},
                rel + "/realms/techstore/.well-known/openid-configuration": {{"issuer": issuer}}}}
        body = json.dumps(docs.get(self.path, {{}})).encode()
        self.send_response(200 if self.path in docs else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
for port in (args["http-port"], args["http-management-port"]):
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
stopped = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stopped.set())
stopped.wait()
'''


@pytest.fixture
def fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    version_dir = cache / "0.0.1"
    dist = version_dir / "dist"
    for relative in ("conf/keycloak.conf", "providers/x", "themes/x", "lib/app/k.jar",
                     "lib/quarkus-run.jar", "lib/quarkus/build.dat", "lib/lib/main/big.jar"):
        (dist / relative).parent.mkdir(parents=True, exist_ok=True)
        (dist / relative).write_text(relative)
    (dist / "bin").mkdir()
    (dist / "bin" / "kc.sh").write_text(FAKE_KC.format(python=sys.executable))
    (dist / "bin" / "kc.sh").chmod(0o755)
    (version_dir / "keycloak-quarkus-dist-0.0.1.tar.gz").write_bytes(b"")
    jdk = tmp_path / "jdk"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin" / "java").write_text("")
    monkeypatch.setenv("SVCAUTH_KEYCLOAK_JAVA_HOME", str(jdk))
    return cache


def _config(cache: Path, tmp_path: Path, mode: str = "ok", **kw: object) -> KeycloakConfig:
    realm = tmp_path / "realm.json"
    realm.write_text('{"realm": "techstore"}')
    env = {"FAKE_KC_MODE": mode, "FAKE_KC_MARKER": str(tmp_path / "marker"),
           "KC_BOOTSTRAP_ADMIN_USERNAME": "admin", "KC_BOOTSTRAP_ADMIN_PASSWORD": "pw"}
    return KeycloakConfig(version="0.0.1", cache=cache, realm_files=(realm,), env=env,
                          start_timeout=30.0, stop_timeout=5.0, **kw)  # type: ignore[arg-type]


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(("auth_path", "prefix"), [("", ""), ("/auth", "/auth"), ("auth/", "/auth")])
def test_start_reports_endpoints_and_stop_leaves_nothing(
        fake_cache: Path, tmp_path: Path, auth_path: str, prefix: str) -> None:
    server = LocalKeycloak(_config(fake_cache, tmp_path, auth_path=auth_path), progress=lambda _: None)
    with server as kc:
        e = kc.endpoints
        pid, home = kc.pid, kc.home
        assert pid is not None and home is not None
        assert e.auth_path == prefix
        assert e.issuer == f"{e.base_url}{prefix}/realms/techstore"
        assert e.health_url.endswith(f"{prefix}/health/ready")
        assert (home / "data/import/realm.json").read_text() == '{"realm": "techstore"}'
        assert f"--hostname={e.base_url}{prefix}" in kc.log_path.read_text()  # type: ignore[union-attr]
    assert not _alive(pid)
    assert not home.exists()


def test_process_that_exits_early_fails_with_log_tail_and_keeps_the_log(
        fake_cache: Path, tmp_path: Path) -> None:
    server = LocalKeycloak(_config(fake_cache, tmp_path, "crash"), progress=lambda _: None)
    with pytest.raises(SvcAuthError) as caught:
        server.start()
    assert caught.value.code == "keycloak_start_failed"
    assert "exited with code 1" in caught.value.message
    assert "boom, realm import failed" in caught.value.message
    assert server.log_path is not None and server.log_path.is_file()
    assert server.pid is None


def test_wrong_issuer_fails_the_start(fake_cache: Path, tmp_path: Path) -> None:
    server = LocalKeycloak(_config(fake_cache, tmp_path, "wrong_issuer"), progress=lambda _: None)
    with pytest.raises(SvcAuthError) as caught:
        server.start()
    assert caught.value.code == "keycloak_start_failed"
    assert caught.value.message.startswith("Keycloak issuer: expected http://127.0.0.1:")
    assert server.pid is None


def test_port_taken_meanwhile_is_retried_on_new_ports(fake_cache: Path, tmp_path: Path) -> None:
    said: list[str] = []
    with LocalKeycloak(_config(fake_cache, tmp_path, "port_once"), progress=said.append) as kc:
        assert kc.endpoints.issuer.startswith("http://127.0.0.1:")
    assert sum("retrying on new ports" in line for line in said) == 1


def test_given_port_taken_is_not_retried(fake_cache: Path, tmp_path: Path) -> None:
    server = LocalKeycloak(_config(fake_cache, tmp_path, "port_once", port=1),
                           progress=lambda _: None)
    with pytest.raises(SvcAuthError) as caught:
        server.start()
    assert caught.value.code == "keycloak_port_in_use"


def test_second_start_with_same_build_options_is_warm(fake_cache: Path, tmp_path: Path) -> None:
    said: list[str] = []
    for _ in range(2):
        with LocalKeycloak(_config(fake_cache, tmp_path), progress=said.append):
            pass
    starts = [line for line in said if line.startswith("starting Keycloak")]
    assert ["cold" in starts[0], "(warm)" in starts[1]] == [True, True]


def test_missing_bootstrap_admin_is_refused_before_launch(
        fake_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KC_BOOTSTRAP_ADMIN_PASSWORD", raising=False)
    config = _config(fake_cache, tmp_path)
    env = {k: v for k, v in config.env.items() if k != "KC_BOOTSTRAP_ADMIN_PASSWORD"}
    server = LocalKeycloak(KeycloakConfig(version="0.0.1", cache=fake_cache, env=env),
                           progress=lambda _: None)
    with pytest.raises(SvcAuthError) as caught:
        server.start()
    assert caught.value.code == "keycloak_start_failed"
    assert "KC_BOOTSTRAP_ADMIN_PASSWORD" in caught.value.message
    assert server.pid is None
