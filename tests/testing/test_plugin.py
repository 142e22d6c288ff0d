"""The pytest plugin in throw-away projects (pytester): configured by ini option, flag or
fixture override; lazy when unused; its failures say what to do."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from testing_support import ENV_FILE, REALM_FILE

# Inner runs skip hypothesis' plugin: its terminal summary alone costs seconds per run.
ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

INI = """
[pytest]
svcauth_realm_file = realm/billing-realm.json
svcauth_env_file = realm/dev.env
svcauth_audience = billing-api
"""


def _project(pytester: pytest.Pytester, ini: str | None = INI) -> Path:
    realm = pytester.mkdir("realm")
    shutil.copy(REALM_FILE, realm / "billing-realm.json")
    shutil.copy(ENV_FILE, realm / "dev.env")
    if ini is not None:
        pytester.makeini(ini)
    return realm


USES_THE_PROVIDER = '''
import httpx

from svcauth.testing import MISSING, assert_refused

SEEN = []


def test_provider_serves_the_realm_on_loopback(svcauth_idp):
    SEEN.append(svcauth_idp)
    assert svcauth_idp.issuer == svcauth_idp.base_url + "/realms/billing"
    assert svcauth_idp.base_url.startswith("http://127.0.0.1:")
    assert svcauth_idp.base_url != "http://127.0.0.1:0"
    assert httpx.get(svcauth_idp.jwks_uri).json() == svcauth_idp.jwks()


def test_a_fetched_token_verifies_over_http(svcauth_idp, svcauth_env):
    SEEN.append(svcauth_idp)
    secret = svcauth_env["INVOICING_JOB_CLIENT_SECRET"]
    assert svcauth_idp.client_secret("invoicing-job") == secret
    answer = httpx.post(svcauth_idp.token_endpoint, data={
        "grant_type": "client_credentials", "client_id": "invoicing-job",
        "client_secret": secret})
    assert answer.status_code == 200
    claims = svcauth_idp.verifier().verify(answer.json()["access_token"])
    assert claims.azp == "invoicing-job"
    assert "billing-api" in claims.audience


def test_minted_claims_are_changed_and_removed(svcauth_idp):
    SEEN.append(svcauth_idp)
    token = svcauth_idp.mint("reporting-service", claims={"tenant": "acme", "scope": MISSING})
    claims = svcauth_idp.verifier().verify(token)
    assert claims["tenant"] == "acme"
    assert "scope" not in claims
    assert claims.azp == "reporting-service"


def test_the_provider_is_one_for_the_session():
    assert len(SEEN) == 3 and SEEN[0] is SEEN[1] is SEEN[2]


def test_static_tokens_verify_without_a_server(svcauth_tokens):
    assert svcauth_tokens.issuer == "https://idp.svcauth.test/realms/billing"
    claims = svcauth_tokens.verifier().verify(svcauth_tokens.mint("invoicing-job"))
    assert claims.azp == "invoicing-job"
'''


def test_realm_file_from_the_ini_option(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makepyfile(test_billing=USES_THE_PROVIDER)
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=5)


def test_flags_win_over_the_ini_options(pytester: pytest.Pytester) -> None:
    realm = _project(pytester, ini="[pytest]\nsvcauth_realm_file = nowhere.json\n"
                                  "svcauth_audience = nobody\n")
    pytester.makepyfile(test_flags='''
        def test_flags(svcauth_tokens, svcauth_realm_file):
            assert svcauth_tokens.realm.name == "billing"
            assert svcauth_tokens.audience == "billing-api"
            assert svcauth_realm_file.name == "billing-realm.json"
    ''')
    result = pytester.runpytest(*ARGS,
                                f"--svcauth-realm-file={realm / 'billing-realm.json'}",
                                f"--svcauth-env-file={realm / 'dev.env'}",
                                "--svcauth-audience=billing-api",
                                "--svcauth-issuer-base=http://kc.internal")
    result.assert_outcomes(passed=1)


def test_issuer_base_option_sets_the_static_issuer(pytester: pytest.Pytester) -> None:
    _project(pytester, ini=INI + "svcauth_issuer_base = http://keycloak.internal:8080\n")
    pytester.makepyfile(test_issuer='''
        def test_issuer(svcauth_tokens):
            assert svcauth_tokens.issuer == "http://keycloak.internal:8080/realms/billing"
    ''')
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_auth_path_option_prefixes_the_providers_paths(pytester: pytest.Pytester) -> None:
    _project(pytester, ini=INI + "svcauth_auth_path = /auth\n")
    pytester.makepyfile(test_auth_path='''
        def test_auth_path(svcauth_idp):
            assert svcauth_idp.issuer == svcauth_idp.base_url + "/auth/realms/billing"
            assert svcauth_idp.token_endpoint.startswith(svcauth_idp.base_url + "/auth/realms/")
            assert svcauth_idp.verifier().verify(svcauth_idp.mint("invoicing-job"))
    ''')
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_a_realm_file_that_is_not_there_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nsvcauth_realm_file = realm/nowhere.json\n")
    pytester.makepyfile(test_nowhere='''
        def test_tokens(svcauth_tokens):
            pass
    ''')
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*svcauth: cannot read realm file "
                                 f"{pytester.path / 'realm' / 'nowhere.json'}: No such file or "
                                 f"directory*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_conftest_may_override_the_realm_file_fixture(pytester: pytest.Pytester) -> None:
    realm = _project(pytester, ini=None)
    pytester.makeconftest(f'''
        import pytest
        from pathlib import Path

        @pytest.fixture(scope="session")
        def svcauth_realm_file():
            return Path({str(realm / "billing-realm.json")!r})

        @pytest.fixture(scope="session")
        def svcauth_env():
            return {{"INVOICING_JOB_CLIENT_SECRET": "s1", "REPORTING_SERVICE_CLIENT_SECRET": "s2",
                    "NEWSLETTER_SERVICE_CLIENT_SECRET": "s3", "BILLING_API_CLIENT_SECRET": "s4",
                    "DANA_PASSWORD": "p"}}
    ''')
    pytester.makepyfile(test_override='''
        def test_override(svcauth_idp):
            assert svcauth_idp.client_secret("invoicing-job") == "s1"
            assert svcauth_idp.verifier("billing-api").verify(
                svcauth_idp.mint("invoicing-job")).azp == "invoicing-job"
    ''')
    pytester.runpytest(*ARGS).assert_outcomes(passed=1)


def test_without_a_realm_file_the_provider_says_how_to_configure_it(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unconfigured='''
        def test_needs_the_provider(svcauth_idp):
            pass

        def test_offline_signing_needs_no_realm(svcauth_tokens):
            token = svcauth_tokens.sign({"iss": svcauth_tokens.issuer, "aud": "api",
                                         "exp": 4102444800})
            assert svcauth_tokens.verifier("api", token_types=None).verify(token)["aud"] == "api"
    ''')
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*svcauth_idp: expected a realm file, found none: set "
                                 "svcauth_realm_file in [[]tool.pytest.ini_options], pass "
                                 "--svcauth-realm-file, or override the svcauth_realm_file "
                                 "fixture*"])


def test_a_missing_variable_of_the_realm_file_is_named(pytester: pytest.Pytester) -> None:
    _project(pytester, ini="[pytest]\nsvcauth_realm_file = realm/billing-realm.json\n")
    pytester.makepyfile(test_missing_env='''
        def test_tokens(svcauth_tokens):
            pass
    ''')
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*expected environment variable BILLING_API_CLIENT_SECRET to "
                                 "be set, found it missing*"])


def test_a_wrong_refusal_fails_the_users_test_with_the_differences(
        pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makepyfile(test_refusal='''
        import httpx
        from svcauth.testing import assert_refused

        def test_expects_the_wrong_code():
            response = httpx.Response(401, json={"error": "Token expired"}, headers={
                "WWW-Authenticate": 'Bearer realm="billing", error="invalid_token", '
                                    'error_description="The access token expired"',
                "Cache-Control": "no-store"})
            assert_refused(response, 401, "token_expired")
            assert_refused(response, 401, "key_not_found")
    ''')
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: expected svcauth's refusal for code 'key_not_found'; differences:",
        "*- body: expected {'error': 'Invalid token'}, found {'error': 'Token expired'}",
        "*- WWW-Authenticate error_description: expected 'The access token was signed by an "
        "unknown key', found 'The access token expired'*",
    ])


def test_unused_fixtures_cost_nothing(pytester: pytest.Pytester) -> None:
    # A fresh process, so that nothing this process imported can hide an import.
    _project(pytester)
    pytester.makepyfile(test_plain='''
        import sys
        import threading

        def test_plugin_is_loaded_and_idle(pytestconfig):
            assert pytestconfig.pluginmanager.hasplugin("svcauth")
            loaded = [m for m in ("svcauth.devidp", "svcauth.receiver", "svcauth.testing._mint",
                                  "svcauth.testing._asserts", "cryptography", "httpx")
                      if m in sys.modules]
            assert loaded == []
            assert not [t for t in threading.enumerate() if t.name.startswith("devidp-")]
    ''')
    pytester.runpytest_subprocess(*ARGS).assert_outcomes(passed=1)


def test_the_fixtures_import_no_web_framework(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makepyfile(test_frameworks='''
        import sys

        def test_both_kits(svcauth_idp, svcauth_tokens):
            svcauth_idp.verifier().verify(svcauth_idp.mint("invoicing-job"))
            svcauth_tokens.verifier().verify(svcauth_tokens.mint("invoicing-job"))
            frameworks = ("fastapi", "starlette", "flask", "django", "aiohttp", "grpc",
                          "requests")
            assert [m for m in frameworks if m in sys.modules] == []
    ''')
    pytester.runpytest_subprocess(*ARGS).assert_outcomes(passed=1)


def test_the_plugin_registers_only_svcauth_names(pytestconfig: pytest.Config) -> None:
    from svcauth.testing import _plugin

    fixtures = sorted(n for n, v in vars(_plugin).items() if hasattr(v, "_pytestfixturefunction")
                      or type(v).__name__ == "FixtureFunctionDefinition")
    assert fixtures == ["svcauth_audience", "svcauth_env", "svcauth_env_file", "svcauth_idp",
                        "svcauth_realm", "svcauth_realm_file", "svcauth_tokens"]
    assert pytestconfig.pluginmanager.hasplugin("svcauth")
    assert pytestconfig.getini("svcauth_realm_file") is None  # this repository sets none


def test_public_names_of_the_package() -> None:
    import svcauth.testing as testing

    assert testing.__all__ == ["MISSING", "LocalProvider", "SigningKey", "TokenFactory",
                               "apply_claims", "assert_refused", "expected_refusal"]
    for name in testing.__all__:
        assert getattr(testing, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = testing.nothing
    assert textwrap.dedent(testing.__doc__ or "").startswith("Test kit for services")
