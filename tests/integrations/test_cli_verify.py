"""``svcauth verify``: exit 0 with the identity, or exit 1 with the error code and reason."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from integration_kit import AUDIENCE, ISSUER, KID, attacker_key, signing_key

from svcauth._cli import main
from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact

ROLE = "notification-service:notifications:send"


def live_token(client: str = "shop-api", key: Any = None, issuer: str = ISSUER, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "exp": now + 300, "iat": now, "iss": issuer, "aud": [AUDIENCE, "account"], "typ": "Bearer",
        "azp": client, "client_id": client, "sub": "sa-1", "scope": "email profile",
        "resource_access": {"notification-service": {"roles": ["notifications:send"]}},
    }
    claims.update(overrides)
    return sign_compact(claims, key or signing_key(), "RS256", {"typ": "JWT", "kid": KID})


@pytest.fixture
def jwks_file(tmp_path: Path) -> str:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(signing_key(), kid=KID, alg="RS256", use="sig")]}))
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["verify", *argv])
    out, err = capsys.readouterr()
    return code, out, err


BASE = ("--issuer", ISSUER, "--audience", AUDIENCE)


def test_valid_token_prints_the_identity_and_exits_0(capsys: pytest.CaptureFixture[str], jwks_file: str) -> None:
    token = live_token()
    code, out, err = run(capsys, token, *BASE, "--jwks-file", jwks_file, "--allow-client", "shop-api",
                         "--require-role", ROLE)
    assert code == 0, err
    assert out.splitlines()[0] == "verified: service account 'shop-api'"
    assert f"  roles:      {ROLE}" in out
    assert token not in out + err and token[-6:] not in out + err


def test_json_output(capsys: pytest.CaptureFixture[str], jwks_file: str) -> None:
    code, out, _ = run(capsys, live_token(), *BASE, "--jwks-file", jwks_file, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["client_id"] == "shop-api" and data["roles"] == [ROLE]
    assert data["scopes"] == ["email", "profile"] and data["issuer"] == ISSUER
    assert 290 <= data["expires_in"] <= 300


def test_token_from_standard_input(capsys: pytest.CaptureFixture[str], jwks_file: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {live_token()}\n"))
    code, out, _ = run(capsys, "-", *BASE, "--jwks-file", jwks_file)
    assert code == 0 and "'shop-api'" in out


@pytest.mark.parametrize(("name", "token", "extra", "expected"), [
    ("expired", lambda: live_token(exp=int(time.time()) - 120), (), "error [token_expired]"),
    ("forged", lambda: live_token(key=attacker_key()), (), "error [signature_invalid]"),
    ("wrong_audience", lambda: live_token(aud="account"), (), "error [audience_mismatch]"),
    ("wrong_issuer", lambda: live_token(issuer=ISSUER + "x"), (), "error [issuer_mismatch]"),
    ("garbage", lambda: "not-a-token", (), "error [token_malformed]"),
    ("alg_off_list", lambda: live_token(), ("--algorithm", "ES256"), "error [alg_not_allowed]"),
    ("user_token", lambda: live_token("storefront", client_id=None), (), "error [not_service_account]"),
    ("not_allowed", lambda: live_token("reporting-job"), ("--allow-client", "shop-api"),
     "error [unauthorized_service]: Unauthorized service"),
    ("missing_role", lambda: live_token(resource_access={}), ("--require-role", ROLE),
     f"error [insufficient_scope]: Insufficient scope: missing {ROLE}"),
    ("missing_scope", lambda: live_token(), ("--require-scope", "notifications.send"),
     "error [insufficient_scope]: Insufficient scope: missing notifications.send"),
])
def test_refusals_print_code_and_reason_and_exit_1(
    capsys: pytest.CaptureFixture[str], jwks_file: str, name: str, token: Any,
    extra: tuple[str, ...], expected: str,
) -> None:
    t = token()
    code, out, err = run(capsys, t, *BASE, "--jwks-file", jwks_file, *extra)
    assert code == 1
    assert out == ""
    assert err.startswith("svcauth verify: ") and expected in err
    if len(t) > 20:
        assert t[-6:] not in err


def test_empty_standard_input_is_token_missing(capsys: pytest.CaptureFixture[str], jwks_file: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    code, _, err = run(capsys, "-", *BASE, "--jwks-file", jwks_file)
    assert code == 1 and "error [token_missing]" in err


def test_unreadable_jwks_file_is_a_configuration_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, live_token(), *BASE, "--jwks-file", str(tmp_path / "missing.json"))
    assert code == 1 and "error [config_invalid]" in err


def test_hmac_algorithm_option_is_refused(capsys: pytest.CaptureFixture[str], jwks_file: str) -> None:
    code, _, err = run(capsys, live_token(), *BASE, "--jwks-file", jwks_file, "--algorithm", "HS256")
    assert code == 1 and "error [config_invalid]" in err


# -- keys over HTTP: discovery and --jwks-uri against a loopback provider ------------------------


class _Provider(BaseHTTPRequestHandler):
    base = ""
    up = True

    def do_GET(self) -> None:
        if not type(self).up:
            self.send_response(500)
            self.end_headers()
            return
        if self.path.endswith("/.well-known/openid-configuration"):
            issuer = type(self).base + "/realms/techstore"
            body = {"issuer": issuer, "jwks_uri": issuer + "/protocol/openid-connect/certs",
                    "token_endpoint": issuer + "/protocol/openid-connect/token"}
        elif self.path.endswith("/certs"):
            body = {"keys": [public_jwk(signing_key(), kid=KID, alg="RS256", use="sig")]}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    _Provider.base = f"http://127.0.0.1:{server.server_address[1]}"
    _Provider.up = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Provider.base + "/realms/techstore"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_keys_found_through_discovery(capsys: pytest.CaptureFixture[str], provider: str) -> None:
    code, out, err = run(capsys, live_token(issuer=provider), "--issuer", provider, "--audience", AUDIENCE)
    assert code == 0, err
    assert f"  issuer:     {provider}" in out


def test_keys_from_an_explicit_jwks_uri(capsys: pytest.CaptureFixture[str], provider: str) -> None:
    code, _, err = run(capsys, live_token(issuer=provider), "--issuer", provider, "--audience",
                       AUDIENCE, "--jwks-uri", provider + "/protocol/openid-connect/certs")
    assert code == 0, err


def test_unreachable_keys_are_jwks_unavailable(capsys: pytest.CaptureFixture[str], provider: str) -> None:
    _Provider.up = False
    code, _, err = run(capsys, live_token(issuer=provider), "--issuer", provider, "--audience",
                       AUDIENCE, "--jwks-uri", provider + "/protocol/openid-connect/certs")
    assert code == 1 and "error [jwks_unavailable]" in err


def test_failed_discovery_is_discovery_failed(capsys: pytest.CaptureFixture[str], provider: str) -> None:
    _Provider.up = False
    code, _, err = run(capsys, live_token(issuer=provider), "--issuer", provider, "--audience", AUDIENCE)
    assert code == 1 and "error [discovery_failed]" in err
