"""`svcauth token` against the embedded dev IdP, and `svcauth decode`."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from svcauth._cli import _decode, _token
from svcauth._jws import b64url_encode
from svcauth.devidp import DevIdP, load_env_file

ROOT = Path(__file__).resolve().parents[2]
ENV = load_env_file(ROOT / "deploy" / "dev.env")


def _parser() -> argparse.ArgumentParser:
    # Only this part's sub-commands, so the test does not depend on the others' modules.
    parser = argparse.ArgumentParser(prog="svcauth")
    sub = parser.add_subparsers(dest="command", required=True)
    _token.add_parser(sub)
    _decode.add_parser(sub)
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[DevIdP]:
    for name in ("OIDC_ISSUER", "KEYCLOAK_CLIENT_SECRET_FILE", "KEYCLOAK_CLIENT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    with DevIdP(ROOT / "deploy/keycloak/techstore-realm.json", env=ENV) as provider:
        monkeypatch.setenv("KEYCLOAK_URL", provider.base_url)
        monkeypatch.setenv("KEYCLOAK_REALM", "techstore")
        monkeypatch.setenv("KEYCLOAK_AUTH_PATH", "")
        monkeypatch.setenv("KEYCLOAK_CLIENT_ID", "shop-api")
        monkeypatch.setenv("KEYCLOAK_CLIENT_SECRET", ENV["SHOP_API_CLIENT_SECRET"])
        yield provider


def test_token_prints_the_access_token_from_the_environment(idp: DevIdP, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["token"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2
    assert idp.stats()["token_requests"] == {"shop-api": {"client_credentials": 1}}


def test_token_json_with_a_private_key_flag(idp: DevIdP, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["token", "--issuer", idp.issuer, "--client-id", "inventory-sync",
                 "--private-key-file", str(ROOT / "deploy/dev/inventory-sync.key.pem"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["token_type"] == "Bearer" and doc["expires_in"] == 300
    assert doc["expires_at"].endswith("+00:00")
    assert doc["token_endpoint"] == idp.token_endpoint


def test_token_secret_file_flag_and_no_secret_flag_exists(idp: DevIdP, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "s"
    secret.write_text(ENV["CART_REMINDER_JOB_CLIENT_SECRET"])
    assert _run(["token", "--client-id", "cart-reminder-job", "--client-secret-file", str(secret)]) == 0
    assert capsys.readouterr().out.count(".") == 2
    with pytest.raises(SystemExit):
        _parser().parse_args(["token", "--client-secret", "x"])


def _jwt(claims: dict[str, object]) -> str:
    header = b64url_encode(json.dumps({"alg": "RS256", "kid": "k1"}).encode())
    return f"{header}.{b64url_encode(json.dumps(claims).encode())}.c2ln"


@pytest.mark.parametrize(("exp", "line"), [
    (1_700_000_125, "time left: 2m 5s"),
    (1_699_999_000, "time left: expired 16m 40s ago"),
    (None, "time left: unknown (no exp claim)"),
])
def test_decode_shows_header_claims_and_time_left_headed_not_verified(exp: int | None, line: str) -> None:
    claims: dict[str, object] = {"azp": "shop-api"} if exp is None else {"azp": "shop-api", "exp": exp}
    text = _decode.describe(_jwt(claims), now=1_700_000_000.0)
    assert text.splitlines()[0].startswith("NOT VERIFIED")
    assert '"kid": "k1"' in text and '"azp": "shop-api"' in text
    assert text.splitlines()[-1] == line


def test_decode_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(_jwt({"sub": "x"}) + "\n"))
    assert _run(["decode", "-"]) == 0
    assert capsys.readouterr().out.startswith("NOT VERIFIED")


def test_decode_rejects_a_malformed_token() -> None:
    from svcauth import InvalidTokenError
    with pytest.raises(InvalidTokenError) as info:
        _decode.describe("not-a-jwt", now=0)
    assert info.value.code == "token_malformed"
