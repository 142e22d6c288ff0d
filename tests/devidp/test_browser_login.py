"""The embedded provider's browser login: authorization endpoint, login page, code + PKCE,
SSO, prompt=none, refresh rotation, userinfo, logout and the keycloak-js helper pages, over
real HTTP with a cookie jar (Keycloak 26.7.3's answers; see docs/devidp.md)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from devidp_support import REALM_FILE, claims_of, verify_with_pyjwt

from browser_flow import Browser, code_flow, params_of, pkce_pair
from svcauth.devidp import DevIdP
from svcauth.devidp._realm import realm_from_dict
from svcauth.devidp._redirects import redirect_allowed

ALICE = ("alice", "dev-alice-password")
CB = "http://127.0.0.1:5173/cb"
SPA = {"clientId": "spa", "enabled": True, "publicClient": True, "standardFlowEnabled": True,
       "directAccessGrantsEnabled": False, "redirectUris": ["http://127.0.0.1/*"],
       "webOrigins": ["http://127.0.0.1:5173"],
       "attributes": {"pkce.code.challenge.method": "S256",
                      "post.logout.redirect.uris": "http://127.0.0.1/*"}}
LOOSE = {"clientId": "loose", "enabled": True, "publicClient": True,
         "redirectUris": ["http://127.0.0.1:5173/exact"], "webOrigins": ["+"]}
NO_FLOW = {"clientId": "noflow", "publicClient": True, "standardFlowEnabled": False,
           "redirectUris": ["http://127.0.0.1/*"]}


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))  # near real time: PyJWT checks exp/iat

    def __call__(self) -> float:
        return self.now


def _realm(env: dict[str, str], **settings: Any) -> Any:
    data = json.loads(REALM_FILE.read_text())
    data = copy.deepcopy(data)
    data["clients"] += [SPA, LOOSE, NO_FLOW]
    data.update(settings)
    return realm_from_dict(data, env)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(dev_env: dict[str, str], clock: Clock) -> Iterator[DevIdP]:
    with DevIdP(_realm(dev_env), clock=clock) as idp:
        yield idp


@pytest.fixture
def browser(provider: DevIdP) -> Iterator[Browser]:
    b = Browser(provider.issuer)
    yield b
    b.close()


def _auth(**over: str) -> dict[str, str]:
    _, challenge = pkce_pair()
    base = {"client_id": "spa", "redirect_uri": CB, "response_type": "code", "scope": "openid",
            "state": "st", "nonce": "nn", "code_challenge": challenge,
            "code_challenge_method": "S256", "response_mode": "fragment"}
    base.update(over)
    return {k: v for k, v in base.items() if v != "-"}


# -- redirect-URI rules (pure) -----------------------------------------------------------
@pytest.mark.parametrize(("valid", "uri", "ok"), [
    (["http://127.0.0.1/*"], "http://127.0.0.1:5173/cb", True),  # loopback: port ignored
    (["http://127.0.0.1/*"], "http://127.0.0.1/cb?x=1", True),
    (["http://localhost/cb"], "http://localhost:9999/cb", True),
    (["http://127.0.0.1/cb"], "http://127.0.0.1:5173/other", False),
    (["http://example.com/app/*"], "http://example.com/app/x#f", True),
    (["http://example.com/app/*"], "http://example.com/app", True),  # trailing '/' optional
    (["http://example.com/app/*"], "http://example.com/apple", False),
    (["http://example.com:8080/cb"], "http://example.com:9090/cb", False),  # not loopback
    (["https://a.example/cb"], "https://a.example/cb", True),
    (["https://a.example/cb"], "https://a.example/cb/", False),
    (["*"], "https://anything.example/x", True),
    (["*"], "javascript:alert(1)", False),  # only http(s) unless registered
    ([], "http://127.0.0.1/cb", False),
])
def test_redirect_uri_rules(valid: list[str], uri: str, ok: bool) -> None:
    assert redirect_allowed(valid, uri) is ok


# -- error page: never redirect to an unregistered URI -----------------------------------
@pytest.mark.parametrize(("over", "message"), [
    ({"client_id": "nobody"}, "Client not found."),
    ({"client_id": "-"}, "Client not found."),
    ({"redirect_uri": "http://evil.example/cb"}, "Invalid parameter: redirect_uri"),
    ({"redirect_uri": "-"}, "Invalid parameter: redirect_uri"),
    ({"client_id": "loose", "redirect_uri": "http://127.0.0.1:5173/other"},
     "Invalid parameter: redirect_uri"),
])
def test_bad_client_or_redirect_uri_answers_error_page(browser: Browser, over: dict[str, str],
                                                       message: str) -> None:
    r = browser.authorize(**_auth(**over))
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")
    assert "We are sorry..." in r.text and message in r.text


# -- error redirects -----------------------------------------------------------------------
@pytest.mark.parametrize(("over", "error", "description"), [
    ({"response_type": "-"}, "invalid_request", "Missing parameter: response_type"),
    ({"code_challenge_method": "-"}, "invalid_request",
     "Missing parameter: code_challenge_method"),
    ({"code_challenge_method": "plain"}, "invalid_request",
     "Invalid parameter: code challenge method is not matching the configured one"),
    ({"code_challenge": "-"}, "invalid_request", "Missing parameter: code_challenge"),
    ({"code_challenge": "short"}, "invalid_request", "Invalid parameter: code_challenge"),
    ({"scope": "openid nope"}, "invalid_scope", "Invalid scopes: openid nope"),
    ({"client_id": "noflow"}, "unauthorized_client",
     "Client is not allowed to initiate browser login with given response_type. "
     "Standard flow is disabled for the client."),
    ({"client_id": "loose", "redirect_uri": "http://127.0.0.1:5173/exact",
      "code_challenge_method": "S512"}, "invalid_request",
     "Invalid parameter: code_challenge_method"),
])
def test_bad_request_redirects_with_keycloak_error(browser: Browser, provider: DevIdP,
                                                   over: dict[str, str], error: str,
                                                   description: str) -> None:
    r = browser.authorize(**_auth(**over))
    assert r.status_code == 302
    got = params_of(r.headers["location"])
    assert got == {"error": error, "error_description": description, "state": "st",
                   "iss": provider.issuer}


def test_prompt_none_without_session_is_login_required(browser: Browser,
                                                       provider: DevIdP) -> None:
    r = browser.authorize(**_auth(prompt="none"))
    assert r.status_code == 302
    assert r.headers["location"].startswith(CB + "#")
    assert params_of(r.headers["location"]) == {"error": "login_required", "state": "st",
                                                "iss": provider.issuer}


# -- login page ---------------------------------------------------------------------------
def test_login_page_is_self_contained_and_shows_keycloak_error(browser: Browser) -> None:
    page = browser.authorize(**_auth())
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert "http" not in page.text.split("<form")[0].replace("http-equiv", "")  # no assets
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    wrong = browser.submit_login(page, "alice", "not-her-password")
    assert wrong.status_code == 200
    assert "Invalid username or password." in wrong.text
    assert 'value="alice"' in wrong.text
    unknown = browser.submit_login(wrong, "mallory", "x")
    assert "Invalid username or password." in unknown.text
    service = browser.submit_login(wrong, "service-account-shop-api", "")
    assert "Invalid username or password." in service.text
    ok = browser.submit_login(wrong, *ALICE)
    assert ok.status_code == 302


def test_expired_login_page_is_refused(browser: Browser, clock: Clock) -> None:
    page = browser.authorize(**_auth())
    clock.now += 1801  # accessCodeLifespanLogin
    r = browser.submit_login(page, *ALICE)
    assert r.status_code == 400
    assert "Your login attempt timed out." in r.text


# -- the full flow ----------------------------------------------------------------------------
def test_code_flow_with_pkce_issues_keycloak_shaped_tokens(browser: Browser,
                                                           provider: DevIdP,
                                                           clock: Clock) -> None:
    got, body, _ = code_flow(browser, "spa", CB, *ALICE, response_mode="fragment")
    assert list(got) == ["state", "session_state", "iss", "code"]
    assert got["state"] == "st-1" and got["iss"] == provider.issuer
    assert list(body) == ["access_token", "expires_in", "refresh_expires_in", "refresh_token",
                          "token_type", "id_token", "not-before-policy", "session_state",
                          "scope"]
    assert body["session_state"] == got["session_state"]
    assert body["expires_in"] == 300 and body["refresh_expires_in"] == 1800
    assert body["scope"] == "openid email profile"
    access = verify_with_pyjwt(body["access_token"], provider.jwks(), issuer=provider.issuer)
    idt = verify_with_pyjwt(body["id_token"], provider.jwks(), issuer=provider.issuer,
                            audience="spa")
    assert access["jti"].startswith("onrtac:")
    assert access["auth_time"] == int(clock.now) and idt["auth_time"] == int(clock.now)
    assert idt["nonce"] == "n-1" and "nonce" not in access
    assert access["sid"] == idt["sid"] == got["session_state"]
    assert idt["preferred_username"] == access["preferred_username"] == "alice"
    assert list(idt)[:4] == ["exp", "iat", "auth_time", "jti"]
    assert list(idt).index("nonce") == list(idt).index("azp") + 1
    assert claims_of(body["refresh_token"])["typ"] == "Refresh"


def test_second_authorize_is_silent_and_keeps_the_session(browser: Browser) -> None:
    first, _, _ = code_flow(browser, "spa", CB, *ALICE)
    r = browser.authorize(**_auth())
    assert r.status_code == 302
    again = params_of(r.headers["location"])
    assert again["session_state"] == first["session_state"] and "code" in again
    silent = browser.authorize(**_auth(prompt="none"))
    assert "code" in params_of(silent.headers["location"])
    forced = browser.authorize(**_auth(prompt="login"))
    assert forced.status_code == 200 and 'name="password"' in forced.text


def test_query_and_form_post_response_modes(browser: Browser) -> None:
    page = browser.authorize(**_auth(response_mode="query"))
    done = browser.submit_login(page, *ALICE)
    assert done.headers["location"].startswith(CB + "?state=st&session_state=")
    posted = browser.authorize(**_auth(response_mode="form_post"))
    assert posted.status_code == 200
    assert f'action="{CB}"' in posted.text and 'name="code"' in posted.text


# -- token endpoint errors -----------------------------------------------------------------------
def _code(browser: Browser, **over: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    params = _auth(code_challenge=challenge, **over)
    r = browser.authorize(**params)
    if r.status_code == 200:
        r = browser.submit_login(r, *ALICE)
    return params_of(r.headers["location"])["code"], verifier


@pytest.mark.parametrize(("form", "status", "error", "description"), [
    ({"code": None}, 400, "invalid_request", "Missing parameter: code"),
    ({"code": "nope"}, 400, "invalid_grant", "Code not valid"),
    ({"code": ""}, 400, "invalid_grant", "Code not valid"),
    ({"redirect_uri": "http://127.0.0.1:5173/other"}, 400, "invalid_grant",
     "Incorrect redirect_uri"),
    ({"redirect_uri": None}, 400, "invalid_grant", "Incorrect redirect_uri"),
    ({"client_id": "loose"}, 400, "invalid_grant",
     "Auth error: Found different client_id in clientSession"),
    ({"code_verifier": None}, 400, "invalid_grant", "PKCE code verifier not specified"),
    ({"code_verifier": ""}, 400, "invalid_grant",
     "PKCE verification failed: Invalid code verifier"),
    ({"code_verifier": "a" * 42}, 400, "invalid_grant",
     "PKCE verification failed: Invalid code verifier"),
    ({"code_verifier": "a" * 128}, 400, "invalid_grant",
     "PKCE verification failed: Code mismatch"),
    ({"client_id": "nobody"}, 401, "invalid_client",
     "Invalid client or Invalid client credentials"),
])
def test_code_exchange_errors(browser: Browser, form: dict[str, str | None], status: int,
                              error: str, description: str) -> None:
    code, verifier = _code(browser)
    base: dict[str, str | None] = {"grant_type": "authorization_code", "code": code,
                                   "client_id": "spa", "redirect_uri": CB,
                                   "code_verifier": verifier}
    base.update(form)
    r = browser.token(**{k: v for k, v in base.items() if v is not None})
    assert r.status_code == status
    assert r.json() == {"error": error, "error_description": description}
    retry = browser.token(grant_type="authorization_code", code=code, client_id="spa",
                          redirect_uri=CB, code_verifier=verifier)
    # A failed client authentication does not spend the code; every other failure does.
    assert retry.status_code == (200 if status == 401 or "code" in form else 400)


def test_verifier_without_challenge_is_refused(browser: Browser) -> None:
    params = _auth(client_id="loose", redirect_uri="http://127.0.0.1:5173/exact",
                   code_challenge="-", code_challenge_method="-")
    page = browser.authorize(**params)
    code = params_of(browser.submit_login(page, *ALICE).headers["location"])["code"]
    r = browser.token(grant_type="authorization_code", code=code, client_id="loose",
                      redirect_uri="http://127.0.0.1:5173/exact", code_verifier="a" * 43)
    assert r.json() == {"error": "invalid_grant", "error_description":
                        "PKCE code verifier specified but challenge not present in "
                        "authorization"}


def test_reused_code_is_refused_and_ends_the_session(browser: Browser) -> None:
    code, verifier = _code(browser)
    form = {"grant_type": "authorization_code", "code": code, "client_id": "spa",
            "redirect_uri": CB, "code_verifier": verifier}
    first = browser.token(**form)
    assert first.status_code == 200
    again = browser.token(**form)
    assert again.json() == {"error": "invalid_grant", "error_description": "Code not valid"}
    refresh = browser.token(grant_type="refresh_token", client_id="spa",
                            refresh_token=first.json()["refresh_token"])
    assert refresh.json() == {"error": "invalid_grant", "error_description":
                              "Session not active"}


def test_expired_code_is_refused(browser: Browser, clock: Clock) -> None:
    code, verifier = _code(browser)
    clock.now += 60  # accessCodeLifespan
    r = browser.token(grant_type="authorization_code", code=code, client_id="spa",
                      redirect_uri=CB, code_verifier=verifier)
    assert r.json() == {"error": "invalid_grant", "error_description": "Code not valid"}


def test_code_redeemed_just_before_expiry_works(browser: Browser, clock: Clock) -> None:
    code, verifier = _code(browser)
    clock.now += 59
    r = browser.token(grant_type="authorization_code", code=code, client_id="spa",
                      redirect_uri=CB, code_verifier=verifier)
    assert r.status_code == 200


# -- refresh ------------------------------------------------------------------------------------
def test_refresh_reuse_allowed_by_default(browser: Browser, provider: DevIdP,
                                          clock: Clock) -> None:
    _, body, _ = code_flow(browser, "spa", CB, *ALICE)
    login_time = int(clock.now)
    clock.now += 10
    old = body["refresh_token"]
    for _ in range(2):  # revokeRefreshToken is off: the same token works again
        r = browser.token(grant_type="refresh_token", client_id="spa", refresh_token=old)
        assert r.status_code == 200
        access = claims_of(r.json()["access_token"])
        assert access["jti"].startswith("onrtrt:")
        assert access["auth_time"] == login_time and access["iat"] == login_time + 10
        assert r.json()["session_state"] == body["session_state"]
        assert "id_token" in r.json()
    assert r.json()["refresh_token"] != old


def test_refresh_rotation_when_realm_revokes(dev_env: dict[str, str], clock: Clock) -> None:
    realm = _realm(dev_env, revokeRefreshToken=True, refreshTokenMaxReuse=0)
    with DevIdP(realm, clock=clock) as idp:
        b = Browser(idp.issuer)
        try:
            _, body, _ = code_flow(b, "spa", CB, *ALICE)
            first = b.token(grant_type="refresh_token", client_id="spa",
                            refresh_token=body["refresh_token"])
            assert first.status_code == 200
            replay = b.token(grant_type="refresh_token", client_id="spa",
                             refresh_token=body["refresh_token"])
            assert replay.json() == {"error": "invalid_grant", "error_description":
                                     "Maximum allowed refresh token reuse exceeded"}
            newest = b.token(grant_type="refresh_token", client_id="spa",
                             refresh_token=first.json()["refresh_token"])
            assert newest.status_code == 200
        finally:
            b.close()


def test_refresh_after_idle_timeout_is_session_not_active(browser: Browser,
                                                          clock: Clock) -> None:
    _, body, _ = code_flow(browser, "spa", CB, *ALICE)
    clock.now += 1800
    r = browser.token(grant_type="refresh_token", client_id="spa",
                      refresh_token=body["refresh_token"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


# -- userinfo ----------------------------------------------------------------------------------------
def test_userinfo(browser: Browser, provider: DevIdP) -> None:
    _, body, _ = code_flow(browser, "spa", CB, *ALICE)
    url = f"{provider.issuer}/protocol/openid-connect/userinfo"
    r = browser.http.get(url, headers={"Authorization": f"Bearer {body['access_token']}",
                                       "Origin": "http://127.0.0.1:5173"})
    assert r.status_code == 200
    info = r.json()
    # The names Keycloak 26.7.3 answers for this realm (their order is the mappers', not a
    # contract); tests/keycloak/test_kc_browser_conformance.py compares with Keycloak itself.
    assert next(iter(info)) == "sub"
    assert sorted(info) == sorted(["sub", "email_verified", "name", "preferred_username",
                                   "given_name", "family_name", "email"])
    assert info["sub"] == claims_of(body["access_token"])["sub"]
    assert info["preferred_username"] == "alice" and info["email"] == "alice@example.com"
    assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    posted = browser.http.post(url, data={"access_token": body["access_token"]})
    assert posted.json() == info


@pytest.mark.parametrize(("headers", "error", "description"), [
    ({}, "invalid_request", "Token not provided"),
    ({"Authorization": "Bearer not-a-token"}, "invalid_token", "Token verification failed"),
])
def test_userinfo_errors(provider: DevIdP, browser: Browser, headers: dict[str, str],
                         error: str, description: str) -> None:
    r = browser.http.get(f"{provider.issuer}/protocol/openid-connect/userinfo", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": error, "error_description": description}
    assert r.headers["www-authenticate"].startswith(f'Bearer realm="techstore", error="{error}"')


# -- logout -----------------------------------------------------------------------------------------
def test_logout_with_id_token_hint_redirects_and_ends_session(browser: Browser,
                                                              provider: DevIdP) -> None:
    _, body, _ = code_flow(browser, "spa", CB, *ALICE)
    r = browser.http.get(f"{provider.issuer}/protocol/openid-connect/logout", params={
        "id_token_hint": body["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:5173/",
        "state": "bye"})
    assert r.status_code == 302
    assert r.headers["location"] == "http://127.0.0.1:5173/?state=bye"
    assert "KEYCLOAK_IDENTITY=;" in r.headers["set-cookie"]
    refresh = browser.token(grant_type="refresh_token", client_id="spa",
                            refresh_token=body["refresh_token"])
    assert refresh.json() == {"error": "invalid_grant", "error_description":
                              "Session not active"}
    userinfo = browser.http.get(f"{provider.issuer}/protocol/openid-connect/userinfo",
                                headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 401
    after = browser.authorize(**_auth(prompt="none"))
    assert params_of(after.headers["location"])["error"] == "login_required"


@pytest.mark.parametrize(("params", "message"), [
    ({"post_logout_redirect_uri": "http://127.0.0.1:5173/"}, "Missing parameters: id_token_hint"),
    ({"post_logout_redirect_uri": "http://evil.example/", "client_id": "spa"},
     "Invalid redirect uri"),
    ({"post_logout_redirect_uri": "http://127.0.0.1:5173/", "client_id": "loose"},
     "Invalid redirect uri"),  # no post.logout.redirect.uris attribute
    ({"id_token_hint": "garbage"}, "Invalid parameter: id_token_hint"),
])
def test_logout_errors(browser: Browser, provider: DevIdP, params: dict[str, str],
                       message: str) -> None:
    r = browser.http.get(f"{provider.issuer}/protocol/openid-connect/logout", params=params)
    assert r.status_code == 400
    assert message in r.text and "location" not in r.headers


def test_logout_without_hint_asks_then_logs_out(browser: Browser, provider: DevIdP) -> None:
    code_flow(browser, "spa", CB, *ALICE)
    page = browser.http.get(f"{provider.issuer}/protocol/openid-connect/logout",
                            params={"client_id": "spa",
                                    "post_logout_redirect_uri": "http://127.0.0.1:5173/"})
    assert page.status_code == 200 and "Do you want to log out?" in page.text
    token = page.text.split('name="session_code" value="')[1].split('"')[0]
    done = browser.http.post(f"{provider.issuer}/protocol/openid-connect/logout/logout-confirm",
                             data={"session_code": token})
    assert done.status_code == 302 and done.headers["location"] == "http://127.0.0.1:5173/"
    after = browser.authorize(**_auth(prompt="none"))
    assert params_of(after.headers["location"])["error"] == "login_required"


# -- keycloak-js pages and CORS -----------------------------------------------------------------
def test_keycloak_js_helper_pages_and_discovery(browser: Browser, provider: DevIdP) -> None:
    oidc = f"{provider.issuer}/protocol/openid-connect"
    for page in ("3p-cookies/step1.html", "3p-cookies/step2.html", "login-status-iframe.html"):
        r = browser.http.get(f"{oidc}/{page}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    init = f"{oidc}/login-status-iframe.html/init"
    assert browser.http.get(init, params={"client_id": "spa",
                                          "origin": "http://127.0.0.1:5173"}).status_code == 204
    assert browser.http.get(init, params={"client_id": "spa",
                                          "origin": "http://evil.example"}).status_code == 403
    assert browser.http.get(init, params={"client_id": "loose",  # '+': redirect URI origins
                                          "origin": "http://127.0.0.1:5173"}).status_code == 204
    doc = browser.http.get(f"{provider.issuer}/.well-known/openid-configuration").json()
    assert doc["check_session_iframe"] == f"{oidc}/login-status-iframe.html"
    assert doc["authorization_endpoint"] == f"{oidc}/auth"
    assert doc["end_session_endpoint"] == f"{oidc}/logout"
    assert doc["userinfo_endpoint"] == f"{oidc}/userinfo"
    assert "fragment" in doc["response_modes_supported"]


def test_token_endpoint_cors_only_for_allowed_origins(browser: Browser) -> None:
    code, verifier = _code(browser)
    form = {"grant_type": "authorization_code", "code": code, "client_id": "spa",
            "redirect_uri": CB, "code_verifier": verifier}
    r = browser.http.post(f"{browser.realm_url}/protocol/openid-connect/token", data=form,
                          headers={"Origin": "http://127.0.0.1:5173"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
    assert r.headers["access-control-allow-credentials"] == "true"
    code2, verifier2 = _code(browser)
    other = browser.http.post(f"{browser.realm_url}/protocol/openid-connect/token",
                              data={**form, "code": code2, "code_verifier": verifier2},
                              headers={"Origin": "http://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
