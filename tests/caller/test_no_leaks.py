"""Nothing secret in repr(), str(), exception messages or tracebacks: scan for the values."""

from __future__ import annotations

import traceback
from pathlib import Path

import httpx
import pytest

from svcauth.caller import (
    CachingTokenSource,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJWT,
    Secret,
    build_token_request,
)

from .fakes import SECRET, TOKEN_URL, FakeClock, FakeTokenEndpoint, make_source

ROOT = Path(__file__).resolve().parents[2]


def _text(obj: object) -> str:
    if isinstance(obj, BaseException):
        return "".join(traceback.format_exception(obj)) + repr(obj) + str(obj) + getattr(obj, "body", "")
    return repr(obj) + str(obj)


def test_reprs_of_everything_holding_a_secret_or_token_hide_it() -> None:
    endpoint, clock = FakeTokenEndpoint(), FakeClock()
    source = make_source(endpoint, clock)
    cached = CachingTokenSource(source)
    access = cached.token()
    token = cached.cached()
    request = build_token_request(token_endpoint=TOKEN_URL, client_id="c", auth=ClientSecretPost(SECRET))
    objects = [Secret(SECRET), ClientSecretBasic(SECRET), ClientSecretPost(SECRET), source.config,
               source, cached, token, request]
    for obj in objects:
        text = _text(obj)
        assert SECRET not in text, type(obj).__name__
        assert access not in text and access[:-6] not in text, type(obj).__name__
    assert "eyJ..." + access[-6:] in repr(token)


def test_secret_refuses_to_be_pickled() -> None:
    import pickle
    with pytest.raises(TypeError):
        pickle.dumps(Secret(SECRET))


@pytest.mark.parametrize("failure", [
    httpx.Response(401, json={"error": "invalid_client"}),
    httpx.Response(400, json={"error": "invalid_scope", "error_description": "scope x"}),
    httpx.ConnectError("connection refused"),
    httpx.Response(200, json={"access_token": "eyJleaked-token-value", "token_type": "mac"}),
])
def test_errors_and_tracebacks_carry_no_secret_assertion_or_token(failure: object, tmp_path: Path) -> None:
    for auth in (ClientSecretBasic(SECRET), PrivateKeyJWT(ROOT / "deploy/dev/inventory-sync.key.pem")):
        assertions: list[str] = []
        endpoint = FakeTokenEndpoint(
            script=[failure] * 50,  # type: ignore[list-item]
            on_request=lambda r, sink=assertions: sink.append(r.content.decode()))  # type: ignore[misc]
        source = CachingTokenSource(make_source(endpoint, FakeClock(), auth=auth, deadline=0.5))
        with pytest.raises(Exception) as info:
            source.token()
        text = _text(info.value)
        assert SECRET not in text
        assert "eyJleaked-token-value" not in text
        for body in assertions:
            for part in body.split("&"):
                if part.startswith("client_assertion="):
                    assert part.split("=", 1)[1][:40] not in text
