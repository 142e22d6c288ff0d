"""ZipkinServer's start against a stand-in ``java`` (a small Python HTTP server answering
``/health``): a port taken between choosing and binding it is retried on a new one, a port
given in the configuration is not, and any other early exit is a start failure. No Java and no
Zipkin jar needed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mockmart.system import zipkin
from mockmart.system.zipkin import ZipkinConfig, ZipkinServer
from svcauth import SvcAuthError

FAKE_JAVA = '''#!{python}
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port = int(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--armeria.ports[0].port=")))
mode, marker = os.environ["FAKE_ZIPKIN_MODE"], os.environ["FAKE_ZIPKIN_MARKER"]
if mode == "crash":
    print("Exception in thread main: bad option", flush=True)
    sys.exit(1)
if mode == "port_once" and not os.path.exists(marker):
    open(marker, "w").close()
    print("java.net.BindException: Address already in use", flush=True)
    sys.exit(1)
class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), Health).serve_forever()
'''


@pytest.fixture
def fake_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``java`` first on PATH is the stand-in; the jar is a file in ``tmp_path``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = bin_dir / "java"
    java.write_text(FAKE_JAVA.format(python=sys.executable))
    java.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ZIPKIN_MARKER", str(tmp_path / "bound-once"))
    jar = tmp_path / "zipkin.jar"
    jar.write_bytes(b"")
    monkeypatch.setattr(zipkin, "ensure_jar", lambda version, progress: jar)
    return tmp_path


def _start(mode: str, monkeypatch: pytest.MonkeyPatch, said: list[str],
           port: int = 0) -> ZipkinServer:
    monkeypatch.setenv("FAKE_ZIPKIN_MODE", mode)
    return ZipkinServer(ZipkinConfig(port=port, start_timeout=30), progress=said.append)


def test_a_port_taken_meanwhile_is_retried_on_a_new_one(
        fake_java: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    with _start("port_once", monkeypatch, said) as server:
        [first_log] = [p for p in fake_java.glob("zipkin-*.log") if p != server.log_path]
        assert "Address already in use" in first_log.read_text()  # a second port, a second log
        assert server.startup_seconds is not None
    assert sum("retrying on a new one" in line for line in said) == 1


def test_a_given_port_taken_is_not_retried(fake_java: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    with pytest.raises(SvcAuthError) as caught:
        _start("port_once", monkeypatch, said, port=1).start()
    assert caught.value.code == "zipkin_port_in_use"
    assert "(port 1 already in use)" in caught.value.message
    assert not any("retrying" in line for line in said)


def test_any_other_early_exit_is_a_start_failure_without_retry(
        fake_java: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    with pytest.raises(SvcAuthError) as caught:
        _start("crash", monkeypatch, said).start()
    assert caught.value.code == "zipkin_start_failed"
    assert caught.value.message.startswith("Zipkin exited with code 1 before it was healthy; see ")
    assert len(list(fake_java.glob("zipkin-*.log"))) == 1
