"""Credentials: rotated secret files, private_key_jwt assertions, configuration from env."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from svcauth import ConfigurationError, DiscoveryError, TokenEndpointError
from svcauth._jwk import public_jwk, thumbprint
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJWT,
    from_env,
)

from .fakes import TOKEN_URL, FakeClock, FakeTokenEndpoint, make_source, token_value


def _basic_secret(request: httpx.Request) -> str:
    raw = base64.b64decode(request.headers["authorization"][6:]).decode()
    return unquote_plus(raw.partition(":")[2])


def test_a_rotated_secret_file_is_picked_up_and_the_old_entry_dropped(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("old-secret\n")
    endpoint, clock = FakeTokenEndpoint(secrets={"old-secret"}), FakeClock(start=0.0)
    src = CachingTokenSource(make_source(endpoint, clock, auth=ClientSecretBasic(secret_file=secret_file)))
    assert src.token() == token_value(1)
    secret_file.write_text("new-secret-rotated\n")
    endpoint.secrets = {"new-secret-rotated"}
    clock.now = 262.0  # the old token is no longer served (after 261 s)
    assert src.token() == token_value(2)
    assert [_basic_secret(r) for r in endpoint.requests] == ["old-secret", "new-secret-rotated"]
    assert len(src._cache) == 1  # the old credential's entry is gone


def test_invalid_client_rereads_an_unchanged_looking_file_and_retries_once(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("secret-AAAA")
    endpoint, clock = FakeTokenEndpoint(secrets={"secret-AAAA"}), FakeClock(start=0.0)
    source = make_source(endpoint, clock, auth=ClientSecretPost(secret_file=secret_file))
    source.fetch()
    stamp = os.stat(secret_file)
    secret_file.write_text("secret-BBBB")  # same size, and the old mtime put back
    os.utime(secret_file, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    endpoint.secrets = {"secret-BBBB"}
    assert source.fetch().access_token == token_value(3)
    assert [dict(endpoint.form(i))["client_secret"] for i in range(3)] == [
        "secret-AAAA", "secret-AAAA", "secret-BBBB"]


def test_invalid_client_with_an_unchanged_secret_is_not_retried(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("wrong")
    endpoint = FakeTokenEndpoint()
    with pytest.raises(TokenEndpointError) as info:
        make_source(endpoint, FakeClock(), auth=ClientSecretBasic(secret_file=secret_file)).fetch()
    assert (info.value.code, endpoint.count) == ("invalid_client", 1)


def _rsa_pem(tmp_path: Path) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key, path


def test_private_key_jwt_assertion_claims_and_kid_from_pem(tmp_path: Path) -> None:
    key, path = _rsa_pem(tmp_path)
    endpoint, clock = FakeTokenEndpoint(), FakeClock()
    source = make_source(endpoint, clock, auth=PrivateKeyJWT(path, wall_clock=lambda: 1_700_000_000.0))
    source.fetch()
    source.fetch()
    forms = [endpoint.form(0), endpoint.form(1)]
    assert forms[0]["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert forms[0]["client_id"] == "shop-api"
    claims = [jwt.decode(f["client_assertion"], key.public_key(), algorithms=["RS256"], audience=TOKEN_URL,
                         options={"verify_exp": False, "verify_iat": False}) for f in forms]
    assert {k: claims[0][k] for k in ("iss", "sub", "aud", "iat", "exp")} == {
        "iss": "shop-api", "sub": "shop-api", "aud": TOKEN_URL, "iat": 1_700_000_000, "exp": 1_700_000_060}
    assert claims[0]["jti"] != claims[1]["jti"]
    header = jwt.get_unverified_header(forms[0]["client_assertion"])
    assert header == {"alg": "RS256", "kid": thumbprint(public_jwk(key)), "typ": "JWT"}
    assert "authorization" not in endpoint.requests[0].headers


def test_private_key_jwt_from_a_jwk_file_uses_its_kid_and_curve(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(key, kid="my-kid")
    jwk["d"] = base64.urlsafe_b64encode(key.private_numbers().private_value.to_bytes(32, "big")).rstrip(b"=").decode()
    path = tmp_path / "key.jwk"
    path.write_text(json.dumps(jwk))
    endpoint = FakeTokenEndpoint()
    make_source(endpoint, FakeClock(), auth=PrivateKeyJWT(path, audience="https://idp.test/realms/techstore")).fetch()
    assertion = endpoint.form()["client_assertion"]
    assert jwt.get_unverified_header(assertion)["kid"] == "my-kid"
    claims = jwt.decode(assertion, key.public_key(), algorithms=["ES256"],
                        audience="https://idp.test/realms/techstore")
    assert claims["aud"] == "https://idp.test/realms/techstore"


@contextmanager
def _closed_port() -> Iterator[int]:
    """A port bound but never listening, held for the test: a connection to it is refused,
    and no other process can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.mark.parametrize(("env", "code", "named"), [
    ({}, "config_missing", "KEYCLOAK_CLIENT_ID"),
    ({"KEYCLOAK_CLIENT_ID": "shop-api"}, "config_missing", "KEYCLOAK_CLIENT_SECRET"),
    ({"KEYCLOAK_CLIENT_ID": "shop-api", "KEYCLOAK_CLIENT_SECRET": ""}, "config_missing", "KEYCLOAK_CLIENT_SECRET"),
    ({"KEYCLOAK_CLIENT_ID": "shop-api", "KEYCLOAK_CLIENT_SECRET": "x"}, "config_missing", "KEYCLOAK_URL"),
    ({"KEYCLOAK_CLIENT_ID": "shop-api", "KEYCLOAK_CLIENT_SECRET": "x", "KEYCLOAK_URL": "http://kc"},
     "config_missing", "KEYCLOAK_REALM"),
    ({"KEYCLOAK_CLIENT_ID": "a", "KEYCLOAK_CLIENT_SECRET_FILE": "/nonexistent/secret"},
     "config_missing", "/nonexistent/secret"),
])
def test_missing_configuration_is_an_error_naming_the_variable(env: dict[str, str], code: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientConfig.from_env(env)
    assert info.value.code == code
    assert named in info.value.message


@pytest.mark.parametrize(("auth_path", "endpoint"), [
    ("", "http://kc:8080/realms/techstore/protocol/openid-connect/token"),
    ("/auth", "http://kc:8080/auth/realms/techstore/protocol/openid-connect/token"),
    ("auth/", "http://kc:8080/auth/realms/techstore/protocol/openid-connect/token"),
])
def test_keycloak_variables_build_the_token_endpoint(auth_path: str, endpoint: str) -> None:
    config = ClientConfig.from_env({"KEYCLOAK_CLIENT_ID": "shop-api", "KEYCLOAK_CLIENT_SECRET": "x",
                                    "KEYCLOAK_URL": "http://kc:8080", "KEYCLOAK_REALM": "techstore",
                                    "KEYCLOAK_AUTH_PATH": auth_path})
    assert config.resolved().token_endpoint == endpoint
    assert isinstance(config.auth, ClientSecretBasic)


def test_oidc_issuer_is_resolved_by_discovery() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://op.test/.well-known/openid-configuration"
        return httpx.Response(200, json={"issuer": "https://op.test", "token_endpoint": "https://op.test/tok",
                                         "jwks_uri": "https://op.test/jwks"})
    config = ClientConfig.from_env({"KEYCLOAK_CLIENT_ID": "c", "KEYCLOAK_CLIENT_SECRET": "x",
                                    "OIDC_ISSUER": "https://op.test"})
    assert config.resolved(httpx.Client(transport=httpx.MockTransport(handler))).token_endpoint == "https://op.test/tok"


def test_unreachable_discovery_fails_at_start_naming_the_url() -> None:
    with _closed_port() as port, pytest.raises(DiscoveryError) as info:
        url = f"http://127.0.0.1:{port}"
        from_env({"KEYCLOAK_CLIENT_ID": "c", "KEYCLOAK_CLIENT_SECRET": "x", "OIDC_ISSUER": url})
    assert f"{url}/.well-known/openid-configuration" in info.value.message


def test_private_key_file_variable_selects_private_key_jwt(tmp_path: Path) -> None:
    _, path = _rsa_pem(tmp_path)
    config = ClientConfig.from_env({"KEYCLOAK_CLIENT_ID": "c", "KEYCLOAK_CLIENT_KEY_FILE": str(path),
                                    "KEYCLOAK_CLIENT_SECRET": "ignored", "OIDC_ISSUER": "https://op.test"})
    assert isinstance(config.auth, PrivateKeyJWT)


def test_a_none_secret_never_reaches_the_wire() -> None:
    with pytest.raises(ConfigurationError):
        ClientSecretBasic(None)
    with pytest.raises(ConfigurationError):
        ClientSecretPost("")


@pytest.mark.parametrize(("fields", "named", "found"), [
    ({"refresh_ratio": 0.97}, "refresh_ratio + jitter <= 1", "0.97 + 0.05 = 1.02"),
    ({"refresh_ratio": 0.9, "jitter": 0.2}, "refresh_ratio + jitter <= 1", "0.9 + 0.2 = 1.1"),
    ({"jitter": -0.1}, "jitter: expected >= 0", "0.8 + -0.1"),
    ({"refresh_ratio": 0.0}, "refresh_ratio: expected a share", "found 0.0"),
    ({"margin": -10.0}, "margin: expected a finite number of seconds >= 0", "found -10.0"),
    ({"margin": float("nan")}, "margin: expected a finite", "found nan"),
    ({"failure_ttl": float("inf")}, "failure_ttl: expected a finite", "found inf"),
    ({"timeout": float("nan")}, "timeout: expected a positive number", "found nan"),
    ({"deadline": 0.0}, "deadline: expected a positive number", "found 0.0"),
])
def test_timing_settings_it_cannot_work_with_are_refused_naming_the_values(
    fields: dict[str, float], named: str, found: str,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientConfig(client_id="c", auth=ClientSecretBasic("x"), token_endpoint=TOKEN_URL,
                     **fields)  # type: ignore[arg-type]
    assert named in info.value.message
    assert found in info.value.message
