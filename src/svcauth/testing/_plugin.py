"""The ``svcauth`` pytest plugin (entry point ``pytest11``): fixtures for testing your own
services with realistic tokens, without Keycloak.

Configure once (``pyproject.toml``)::

    [tool.pytest.ini_options]
    svcauth_realm_file = "deploy/billing-realm.json"
    svcauth_env_file = "deploy/dev.env"
    svcauth_audience = "billing-api"

then use ``svcauth_idp`` (the embedded provider, running, session scope) or
``svcauth_tokens`` (no server: a static key set). Every option is also a command-line flag
(``--svcauth-realm-file`` ...) and a fixture you may override. Loading this module registers
the options and nothing more: nothing is imported or started until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..devidp import Realm
    from ._mint import LocalProvider, TokenFactory

_OPTIONS = (
    ("realm_file", "Keycloak realm-import JSON the svcauth fixtures serve (relative paths: "
                   "from the ini file's directory). Default: none."),
    ("env_file", "KEY=VALUE file resolving the realm file's ${VARS}. Default: none."),
    ("audience", "Default audience of the verifiers the svcauth fixtures build (your "
                 "service's client id). Default: none."),
    ("issuer_base", "Base URL of svcauth_tokens' issuer (<base>/realms/<realm>). "
                    "Default: https://idp.svcauth.test."),
    ("auth_path", "Path prefix of svcauth_idp's endpoints, e.g. /auth (Keycloak < 17). "
                  "Default: none."),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``svcauth_*`` ini options and ``--svcauth-*`` flags."""
    group = parser.getgroup("svcauth", "svcauth test fixtures")
    for name, text in _OPTIONS:
        group.addoption(f"--svcauth-{name.replace('_', '-')}", dest=f"svcauth_{name}",
                        default=None, help=text)
        parser.addini(f"svcauth_{name}", text, default=None)


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"svcauth_{name}")
    if value:
        return str(value)
    raw = config.getini(f"svcauth_{name}")
    return str(raw).strip() or None if raw else None


def _path(config: pytest.Config, name: str) -> Path | None:
    value = _option(config, name)
    if value is None:
        return None
    path = Path(value).expanduser()
    if config.getoption(f"svcauth_{name}"):
        return path.resolve()  # a flag is relative to where pytest was started
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / path).resolve()


@contextmanager
def _configuration() -> Iterator[None]:
    """A configuration mistake fails the fixture with its message, without a traceback."""
    from .._errors import ConfigurationError

    try:
        yield
    except ConfigurationError as exc:
        pytest.fail(f"svcauth: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def svcauth_realm_file(pytestconfig: pytest.Config) -> Path | None:
    """The realm file: ``--svcauth-realm-file``, else the ``svcauth_realm_file`` ini option
    (relative to the ini file), else ``None``. Override it to compute the path."""
    return _path(pytestconfig, "realm_file")


@pytest.fixture(scope="session")
def svcauth_env_file(pytestconfig: pytest.Config) -> Path | None:
    """The env file for the realm's ``${VARS}``: ``--svcauth-env-file`` or the
    ``svcauth_env_file`` ini option, else ``None``."""
    return _path(pytestconfig, "env_file")


@pytest.fixture(scope="session")
def svcauth_env(svcauth_env_file: Path | None) -> dict[str, str]:
    """The values for the realm's ``${VARS}``: the env file's, else ``{}`` (never
    ``os.environ``; override this fixture to use it)."""
    if svcauth_env_file is None:
        return {}
    from .._envfile import load_env_file

    with _configuration():
        return load_env_file(svcauth_env_file)


@pytest.fixture(scope="session")
def svcauth_realm(svcauth_realm_file: Path | None, svcauth_env: dict[str, str]) -> Realm | None:
    """The loaded realm, or ``None`` without a realm file."""
    if svcauth_realm_file is None:
        return None
    from ..devidp import load_realm

    with _configuration():
        return load_realm(svcauth_realm_file, svcauth_env)


@pytest.fixture(scope="session")
def svcauth_audience(pytestconfig: pytest.Config) -> str | None:
    """Default audience of ``verifier()``: ``--svcauth-audience`` or the ``svcauth_audience``
    ini option, else ``None`` (then ``verifier("<client-id>")`` must name it)."""
    return _option(pytestconfig, "audience")


@pytest.fixture(scope="session")
def svcauth_idp(pytestconfig: pytest.Config, svcauth_realm: Realm | None,
                svcauth_audience: str | None) -> Iterator[LocalProvider]:
    """The embedded provider serving your realm on ``http://127.0.0.1:<free port>`` for
    the whole session: ``issuer``, ``token_endpoint``, ``jwks_uri``, ``key_set``,
    ``verifier()``, ``mint()``, ``headers()``, ``client_secret()``, ``caller_env()``."""
    if svcauth_realm is None:
        pytest.fail("svcauth_idp: expected a realm file, found none: set svcauth_realm_file "
                    "in [tool.pytest.ini_options], pass --svcauth-realm-file, or override the "
                    "svcauth_realm_file fixture", pytrace=False)
    from ._mint import LocalProvider

    auth_path = _option(pytestconfig, "auth_path") or ""
    with LocalProvider.running(svcauth_realm, audience=svcauth_audience,
                               auth_path=auth_path) as provider:
        yield provider


@pytest.fixture(scope="session")
def svcauth_tokens(pytestconfig: pytest.Config, svcauth_realm: Realm | None,
                   svcauth_audience: str | None) -> TokenFactory:
    """Tokens with no server: your realm's claims, signed by keys of this session, and
    ``verifier()`` on a ``StaticKeySet`` of them. Without a realm file the realm is an
    empty ``test`` realm (``sign()`` works, ``mint()`` has no client to mint for)."""
    from ._mint import DEFAULT_ISSUER_BASE, TokenFactory

    base = _option(pytestconfig, "issuer_base") or DEFAULT_ISSUER_BASE
    return TokenFactory(svcauth_realm, issuer_base=base, audience=svcauth_audience)
