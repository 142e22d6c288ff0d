"""``svcauth devidp``: its parser and run()."""

from __future__ import annotations

import argparse
import re
import threading
import time

import httpx
import pytest
from devidp_support import ENV_FILE, REALM_FILE

from svcauth._cli import _devidp


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _devidp.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["devidp", *argv])


def test_parser_defaults() -> None:
    args = _parse(["--realm", "r.json"])
    assert (args.host, args.port, args.auth_path, args.env_file, args.rotate_every,
            args.insecure_bind_any, args.func) == (
        "127.0.0.1", 8080, "", None, None, False, _devidp.run)


def _wait_for_issuer(capsys: pytest.CaptureFixture[str]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"issuer (\S+)", capsys.readouterr().out)
        if match:
            return match.group(1)
        time.sleep(0.05)
    raise AssertionError("svcauth devidp printed no issuer")


def _sig_kids(issuer: str) -> list[str]:
    jwks = httpx.get(f"{issuer}/protocol/openid-connect/certs", timeout=5).json()
    return [k["kid"] for k in jwks["keys"] if k["use"] == "sig"]


def test_run_serves_under_auth_path_and_rotates_keys(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_API_CLIENT_SECRET", raising=False)
    args = _parse(["--realm", str(REALM_FILE), "--env-file", str(ENV_FILE), "--port", "0",
                   "--auth-path", "/auth", "--rotate-every", "0.2"])
    stop = threading.Event()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(_devidp.run(args, stop=stop)))
    worker.start()
    try:
        issuer = _wait_for_issuer(capsys)
        assert issuer.endswith("/auth/realms/techstore")
        first = _sig_kids(issuer)
        later = first
        deadline = time.monotonic() + 30  # a generous bound, not a speed assertion
        while len(later) <= len(first) and time.monotonic() < deadline:
            time.sleep(0.1)
            later = _sig_kids(issuer)
    finally:
        stop.set()
        worker.join(10)
    assert result == [0]
    assert len(later) > len(first)  # rotated, and the old keys are still published
    assert later[-len(first):] == first


def test_run_prints_the_seed_curl_with_the_secret_elided(
        capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--realm", str(REALM_FILE), "--env-file", str(ENV_FILE), "--port", "0"])
    stop = threading.Event()
    stop.set()  # serve nothing: just start, print and stop
    assert _devidp.run(args, stop=stop) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("try: curl"))
    assert re.fullmatch(
        r"try: curl -X POST http://localhost:\d+/realms/techstore/protocol/openid-connect/"
        r"token -d grant_type=client_credentials -d client_id=shop-api -d client_secret=\.\.\.",
        line)
    assert "dev-shop-api-secret" not in out
