"""KEYCLOAK_AUTH_PATH: what svcauth reads, and a warning where the seed's code reads the same
environment differently (its ``process.env.KEYCLOAK_AUTH_PATH || '/auth'``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from svcauth._seed_env import auth_path_from_env
from svcauth.caller._config import ClientConfig

BASE = {"KEYCLOAK_URL": "http://127.0.0.1:1", "KEYCLOAK_REALM": "techstore",
        "KEYCLOAK_CLIENT_ID": "shop-api", "KEYCLOAK_CLIENT_SECRET": "s"}


@pytest.mark.parametrize(("env", "path", "warns"), [
    ({}, "", "is not set"),
    ({"KEYCLOAK_AUTH_PATH": ""}, "", "is empty"),
    ({"KEYCLOAK_AUTH_PATH": "  "}, "", "is empty"),
    ({"KEYCLOAK_AUTH_PATH": "/"}, "/", None),
    ({"KEYCLOAK_AUTH_PATH": "/auth"}, "/auth", None),
    ({"KEYCLOAK_AUTH_PATH": "auto"}, "auto", None),
])
def test_both_readings_are_named_where_they_differ(env: dict[str, str], path: str,
                                                   warns: str | None) -> None:
    value, warning = auth_path_from_env(env)
    assert value == path
    if warns is None:
        assert warning is None
    else:
        assert warning is not None and warns in warning
        assert "no prefix" in warning and "'/auth'" in warning and "=/ " in warning


def test_config_from_the_seeds_environment_uses_no_prefix_and_warns_once(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import svcauth._seed_env as seed_env

    monkeypatch.setattr(seed_env, "_warned", set())  # once per process: start from none
    with caplog.at_level(logging.WARNING, logger="svcauth.config"):
        first = ClientConfig.from_env({**BASE, "KEYCLOAK_AUTH_PATH": ""})
        ClientConfig.from_env({**BASE, "KEYCLOAK_AUTH_PATH": ""})
        slash = ClientConfig.from_env({**BASE, "KEYCLOAK_AUTH_PATH": "/"})
    assert first.resolved().token_endpoint == \
        "http://127.0.0.1:1/realms/techstore/protocol/openid-connect/token"
    assert slash.resolved().token_endpoint == first.resolved().token_endpoint
    lines = [r.getMessage() for r in caplog.records if r.name == "svcauth.config"]
    assert len([x for x in lines if "KEYCLOAK_AUTH_PATH is empty" in x]) == 1


def test_mockmart_stack_can_serve_the_legacy_auth_path(tmp_path: Path) -> None:
    from mockmart.system.stack import Stack, StackOptions

    stack = Stack(StackOptions(run_dir=tmp_path, auth_path="/auth"))
    assert stack.idp.issuer.endswith("/auth/realms/techstore")
    assert stack.idp.token_endpoint.endswith("/auth/realms/techstore/protocol/openid-connect/token")
    assert Stack(StackOptions(run_dir=tmp_path)).idp.issuer.endswith(":0/realms/techstore")


def test_mockmart_up_has_an_auth_path_flag() -> None:
    from mockmart.system.cli import build_parser

    assert build_parser().parse_args(["up", "--auth-path", "/auth"]).auth_path == "/auth"
    assert build_parser().parse_args(["up"]).auth_path == ""
