"""Unit tests of the local-Keycloak plumbing that need no Keycloak: env files, Java choice,
instance homes, endpoint URLs, process-group termination."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from svcauth._envfile import parse_env
from svcauth._errors import ConfigurationError, SvcAuthError
from svcauth.keycloak import Distribution, KeycloakEndpoints, cache_root, java_home_for
from svcauth.keycloak._instance import (
    build_key,
    create_home,
    has_template,
    save_template,
    sweep_stale_homes,
)
from svcauth.keycloak._process import terminate_group


@pytest.mark.parametrize(("text", "expected"), [
    ("A=1\n", {"A": "1"}),
    ("# comment\n\nA=1\nB = two words \n", {"A": "1", "B": "two words"}),
    ("export A='x y'\nB=\"q\"\n", {"A": "x y", "B": "q"}),
    ("EMPTY=\nURL=http://h:1/a=b\n", {"EMPTY": "", "URL": "http://h:1/a=b"}),
])
def test_env_text_parses_key_value_lines(text: str, expected: dict[str, str]) -> None:
    assert parse_env(text) == expected


@pytest.mark.parametrize("text", ["A\n", "1A=x\n", "=x\n", "A B=x\n"])
def test_env_text_rejects_a_line_without_key_value_naming_the_line(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^<string>:1: expected KEY=VALUE"):
        parse_env(text)


def test_cache_root_defaults_under_home_and_honours_override(tmp_path: Path) -> None:
    assert cache_root({}) == Path.home() / ".cache/svcauth/keycloak"
    assert cache_root({"SVCAUTH_KEYCLOAK_CACHE": str(tmp_path)}) == tmp_path


def _fake_jdk(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "java").write_text("")
    return root


def test_java_home_override_is_used_when_it_has_java(tmp_path: Path) -> None:
    jdk = _fake_jdk(tmp_path / "jdk")
    assert java_home_for("26.7.3", {"SVCAUTH_KEYCLOAK_JAVA_HOME": str(jdk)}) == jdk


def test_java_home_without_java_is_keycloak_unavailable(tmp_path: Path) -> None:
    with pytest.raises(SvcAuthError) as caught:
        java_home_for("26.7.3", {"SVCAUTH_KEYCLOAK_JAVA_HOME": str(tmp_path)})
    assert caught.value.code == "keycloak_unavailable"


@pytest.mark.parametrize(("version", "jdk"), [
    ("26.7.3", "/usr/lib/jvm/temurin-25-jdk-amd64"),
    ("26.6.0", "/usr/lib/jvm/temurin-25-jdk-amd64"),
    ("26.5.6", "/usr/lib/jvm/java-17-openjdk-amd64"),
])
def test_java_home_follows_the_version(version: str, jdk: str) -> None:
    if not Path(jdk, "bin", "java").is_file():
        pytest.skip(f"{jdk} not installed here")
    assert java_home_for(version, {}) == Path(jdk)


def test_build_key_ignores_option_order_and_tells_options_apart() -> None:
    assert build_key(["a", "b"]) == build_key(["b", "a"])
    assert build_key(["--db=dev-mem"]) != build_key(["--db=dev-mem", "--http-relative-path=/auth"])
    assert len(build_key(["x"])) == 16


def _fake_dist(tmp_path: Path) -> Distribution:
    home = tmp_path / "cache" / "26.7.3" / "dist"
    for relative in ("bin/kc.sh", "conf/keycloak.conf", "providers/README.md", "themes/README.md",
                     "lib/app/keycloak.jar", "lib/quarkus-run.jar", "lib/quarkus/build.dat",
                     "lib/lib/main/big.jar"):
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(relative)
    return Distribution(version="26.7.3", home=home, java_home=tmp_path)


def test_instance_home_copies_mutable_parts_links_jars_and_imports_realm(tmp_path: Path) -> None:
    dist = _fake_dist(tmp_path)
    realm = tmp_path / "realm.json"
    realm.write_text('{"realm": "x"}')
    home = create_home(dist, [realm], "k1")
    assert home.parent == dist.cache_dir / "runs"
    assert (home / "lib" / "lib").is_symlink()
    assert (home / "lib" / "lib" / "main" / "big.jar").read_text() == "lib/lib/main/big.jar"
    assert not (home / "bin" / "kc.sh").is_symlink()
    assert (home / "data" / "import" / "realm.json").read_text() == '{"realm": "x"}'
    assert (home / "owner.pid").read_text().strip() == str(os.getpid())
    (home / "lib" / "quarkus" / "build.dat").write_text("augmented")
    assert (dist.home / "lib" / "quarkus" / "build.dat").read_text() == "lib/quarkus/build.dat"


def test_saved_augmentation_is_reused_by_the_next_home_with_the_same_key(tmp_path: Path) -> None:
    dist = _fake_dist(tmp_path)
    first = create_home(dist, [], "k1")
    (first / "lib" / "quarkus" / "build.dat").write_text("augmented")
    assert not has_template(dist, "k1")
    assert save_template(dist, first, "k1") is True
    assert save_template(dist, first, "k1") is False
    same = create_home(dist, [], "k1")
    other = create_home(dist, [], "k2")
    assert (same / "lib" / "quarkus" / "build.dat").read_text() == "augmented"
    assert (other / "lib" / "quarkus" / "build.dat").read_text() == "lib/quarkus/build.dat"


def test_sweep_removes_only_homes_whose_owner_is_gone(tmp_path: Path) -> None:
    dist = _fake_dist(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = create_home(dist, [], "k")
    orphan = create_home(dist, [], "k")
    (orphan / "owner.pid").write_text(f"{dead.pid}\n")
    assert sweep_stale_homes(dist.cache_dir / "runs") == [orphan]
    assert mine.is_dir()
    assert not orphan.exists()


def test_creating_a_home_sweeps_homes_left_by_a_dead_owner(tmp_path: Path) -> None:
    dist = _fake_dist(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = create_home(dist, [], "k", owner_pid=dead.pid)
    create_home(dist, [], "k")
    assert not orphan.exists()


def test_endpoints_follow_keycloak_layout_with_and_without_auth_path() -> None:
    plain = KeycloakEndpoints("http://127.0.0.1:1", "", "techstore", "http://127.0.0.1:2",
                              "admin", "pw")
    legacy = KeycloakEndpoints("http://127.0.0.1:1", "/auth", "techstore",
                               "http://127.0.0.1:2/auth", "admin", "pw")
    assert plain.token_endpoint == "http://127.0.0.1:1/realms/techstore/protocol/openid-connect/token"
    assert legacy.issuer == "http://127.0.0.1:1/auth/realms/techstore"
    assert legacy.admin_api == "http://127.0.0.1:1/auth/admin/realms/techstore"
    assert legacy.health_url == "http://127.0.0.1:2/auth/health/ready"
    assert "pw" not in repr(plain)


def test_terminate_group_ends_a_process_that_ignores_sigterm_with_sigkill() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal,time,sys\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "print('ready', flush=True)\ntime.sleep(60)"], stdout=subprocess.PIPE,
        start_new_session=True)
    assert stubborn.stdout is not None
    assert stubborn.stdout.readline() == b"ready\n"
    assert terminate_group(stubborn.pid, 0.5, stubborn) is False
    assert stubborn.returncode == -9


def test_terminate_group_reports_a_clean_sigterm_exit() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(60)"],
                              start_new_session=True)
    assert terminate_group(polite.pid, 10.0, polite) is True
    assert polite.wait() == -15
