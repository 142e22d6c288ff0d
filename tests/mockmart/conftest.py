"""MockMart fixtures: PostgreSQL from scripts/postgres, SQLite in tmp_path, and the identity
provider the running system uses.

PostgreSQL: ``MOCKMART_TEST_DATABASE_URL`` names a server to use; otherwise
``scripts/postgres`` starts a throw-away one (installing Debian's package where it is missing
and we are root). Locally a test needing it is skipped when it cannot be had; with
``CI=true`` it fails instead (CI must run the PostgreSQL tests).

Identity provider: every test on ``running_stack`` or ``make_stack`` runs twice, on the
embedded DevIdP (``[dev]``) and on a real Keycloak (``[keycloak]``, marked ``keycloak``),
except the tests in ``NEEDS_IDP_STOPPED`` (they stop and restart the identity provider, which
the session's Keycloak must survive). See ``mockmart_keycloak``.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service_support import unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "postgres"
NEEDS_IDP_STOPPED = frozenset({
    "test_checkouts_survive_the_identity_provider_down_longer_than_a_token_lives",
})
"""Tests that stop the identity provider: run on the DevIdP only."""
IDPS = ["dev", pytest.param("keycloak", marks=pytest.mark.keycloak)]


def _unavailable(reason: str) -> None:
    unavailable("PostgreSQL", reason)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a PostgreSQL server on 127.0.0.1 (its ``postgres`` database)."""
    preset = os.environ.get("MOCKMART_TEST_DATABASE_URL")
    if preset:
        yield preset
        return
    workdir = tmp_path_factory.mktemp("postgres")
    try:
        done = subprocess.run([str(SCRIPT), "start", str(workdir), str(os.getpid())],
                              capture_output=True,
                              text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"scripts/postgres could not run: {exc}")
        return
    if done.returncode != 0:
        _unavailable(done.stderr.strip()[-500:] or f"scripts/postgres exited {done.returncode}")
        return
    try:
        yield done.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(SCRIPT), "stop", str(workdir)], capture_output=True, timeout=60,
                       check=False)


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server, dropped afterwards."""
    import psycopg

    name = "mm_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgres_server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in the test's tmp dir."""
    return f"sqlite:///{tmp_path / 'mockmart.db'}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each system-level test on both identity providers (see the module docstring)."""
    if "mockmart_idp" in metafunc.fixturenames:
        idps = ["dev"] if metafunc.function.__name__ in NEEDS_IDP_STOPPED else IDPS
        metafunc.parametrize("mockmart_idp", idps, indirect=True, scope="module")


@pytest.fixture(scope="module")
def mockmart_idp(request: pytest.FixtureRequest) -> str:
    """``dev`` or ``keycloak``: the identity provider of the stack fixtures."""
    return str(getattr(request, "param", "dev"))


class KeycloakForStack:
    """The session's Keycloak, one realm copy of it, behind the members ``Stack`` and the
    tests use (``start``/``stop`` leave Keycloak running: the session owns it).

    ``mint_token`` signs a service token like the DevIdP's: the claims of a real token Keycloak
    just issued to the client, with ``iat``/``exp`` moved to ``now``, signed by a key this
    fixture registered in the realm as a passive ``rsa`` key provider (published in the realm's
    JWKS, never used by Keycloak itself). That is how an expired Keycloak token is had without
    waiting for one to expire.
    """

    def __init__(self, endpoints: Any, env: dict[str, str], key: Any, kid: str) -> None:
        self.endpoints = endpoints
        self.realm_name: str = endpoints.realm
        """The realm copy the services use."""
        self._env = env
        self._key = key
        self._kid = kid

    base_url = property(lambda self: self.endpoints.base_url, doc="Keycloak's base URL.")
    issuer = property(lambda self: self.endpoints.issuer, doc="The realm copy's issuer.")
    token_endpoint = property(lambda self: self.endpoints.token_endpoint,
                              doc="The realm copy's token endpoint.")

    def start(self) -> KeycloakForStack:
        """Already running (the session started it)."""
        return self

    def stop(self) -> None:
        """Left running for the rest of the session."""

    def stats(self) -> None:
        """Keycloak keeps no per-client counters: None (as ``KeycloakIdP``)."""
        return None

    def mint_token(self, client_id: str, *, now: float | None = None, lifetime: int = 300,
                   extra_claims: dict[str, Any] | None = None) -> str:
        """A service token of ``client_id`` issued at ``now`` (see the class docs)."""
        import httpx

        from mockmart.config import client_secret_variable
        from svcauth._jws import sign_compact

        response = httpx.post(self.token_endpoint, data={"grant_type": "client_credentials"},
                              auth=(client_id, self._env[client_secret_variable(client_id)]),
                              timeout=30)
        assert response.status_code == 200, f"token for {client_id}: HTTP {response.status_code}"
        from keycloak_support import claims_of

        claims = claims_of(response.json()["access_token"])
        iat = int(time.time() if now is None else now)
        claims.update(iat=iat, exp=iat + lifetime, jti=f"trrtcc:{uuid.uuid4()}",
                      **(extra_claims or {}))
        return sign_compact(claims, self._key, "RS256", {"typ": "JWT", "kid": self._kid})


@pytest.fixture(scope="session")
def mockmart_keycloak(request: pytest.FixtureRequest) -> Iterator[KeycloakForStack]:
    """A throw-away copy of the techstore realm on the session's Keycloak, with a passive
    signing key this fixture holds (for ``mint_token``); the realm is deleted afterwards."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from kc_admin import KeycloakAdmin
    from mockmart.config import REALM_FILE, dev_env

    endpoints = request.getfixturevalue("keycloak")  # the session's one Keycloak
    env = dict(dev_env())
    admin = KeycloakAdmin(endpoints)
    name = "mockmart-" + uuid.uuid4().hex[:8]
    realm = admin.import_realm_copy(REALM_FILE, env, name)
    try:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
        component = admin.add_key_provider(name, "mockmart-mint", "rsa", {
            "privateKey": [pem], "priority": ["-100"], "algorithm": ["RS256"],
            "enabled": ["true"], "active": ["false"]})
        (kid,) = [k["kid"] for k in admin.signing_keys(name) if k["providerId"] == component]
        yield KeycloakForStack(realm, env, key, kid)
    finally:
        admin.delete_realm(name)
        admin.close()


def _new_stack(options: Any, mockmart_idp: str, request: pytest.FixtureRequest) -> Any:
    from mockmart.system.stack import Stack

    stack = Stack(options)
    if mockmart_idp == "keycloak":
        stack.idp = request.getfixturevalue("mockmart_keycloak")
    return stack


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory, mockmart_idp: str,
                  request: pytest.FixtureRequest) -> Iterator[Any]:
    """One MockMart system (processes on free ports) shared by a module's access tests."""
    from mockmart.system.stack import StackOptions

    options = StackOptions(run_dir=tmp_path_factory.mktemp("mockmart"), retry_max_delay=1.0)
    with _new_stack(options, mockmart_idp, request) as stack:
        yield stack


@pytest.fixture
def make_stack(tmp_path: Path, mockmart_idp: str,
               request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Start a MockMart system with the given StackOptions fields; stopped after the test."""
    from mockmart.system.stack import Stack, StackOptions

    started: list[Stack] = []

    def make(**options: Any) -> Stack:
        options.setdefault("run_dir", tmp_path / f"run{len(started)}")
        options.setdefault("retry_max_delay", 1.0)
        stack = _new_stack(StackOptions(**options), mockmart_idp, request)
        started.append(stack)
        return stack.start()  # type: ignore[no-any-return]

    try:
        yield make
    finally:
        for stack in started:
            stack.stop()
