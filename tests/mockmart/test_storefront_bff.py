"""The storefront's backend-for-frontend over HTTP (a scripted browser: httpx, a cookie jar,
no automatic redirects) on the embedded provider: state, PKCE and code injection, the
session cookie's flags and fixation, CSRF on every POST form, ``next=`` open redirects, the
admin page on the server side."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockmart.services.storefront.app import COOKIE, safe_next
from mockmart.system.code_login import Browser, params_of

PASSWORDS = {"mario": "MARIO_PASSWORD", "admin": "ADMIN_PASSWORD"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mockmart.system.stack import Stack, StackOptions

    with Stack(StackOptions(run_dir=tmp_path_factory.mktemp("bff"))) as running:
        yield running


@pytest.fixture
def browser(stack: Any) -> Iterator[Browser]:
    b = Browser(stack.idp.issuer)
    yield b
    b.close()


def _start(browser: Browser, stack: Any, next_path: str = "/") -> httpx.Response:
    """``GET /login``: the redirect to the provider."""
    answer = browser.http.get(stack.storefront.url + "/login",
                              params={"next": next_path})
    assert answer.status_code == 303
    return answer


def _provider_redirect(browser: Browser, stack: Any, started: httpx.Response,
                       user: str = "mario") -> str:
    """Log in at the provider; the callback URL it sends the browser to (not followed)."""
    page = browser.http.get(started.headers["location"])
    done = browser.submit_login(page, user, stack.options.env[PASSWORDS[user]])
    assert done.status_code == 302
    location: str = done.headers["location"]
    assert location.startswith(stack.storefront.url + "/callback?")
    return location


def _login(browser: Browser, stack: Any, user: str = "mario", next_path: str = "/") -> httpx.Response:
    callback = _provider_redirect(browser, stack, _start(browser, stack, next_path), user)
    return browser.http.get(callback)


def _csrf(browser: Browser, stack: Any) -> str:
    page = browser.http.get(stack.storefront.url + "/").text
    marker = 'name="csrf" value="'
    return page.split(marker, 1)[1].split('"', 1)[0]


def _with_query(url: str, **changes: str | None) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _title(answer: httpx.Response) -> str:
    return answer.text.split('<div class="alert error" id="message"><h1>', 1)[1].split("<", 1)[0]


# -- login: state, PKCE, code injection ---------------------------------------------------

def test_login_sends_s256_pkce_state_nonce_and_the_loopback_callback(browser: Browser,
                                                                     stack: Any) -> None:
    started = _start(browser, stack)
    query = params_of(started.headers["location"])
    assert started.headers["location"].startswith(stack.idp.issuer + "/protocol/openid-connect/auth?")
    assert (query["client_id"], query["response_type"], query["scope"],
            query["code_challenge_method"], query["redirect_uri"]) == (
        "storefront", "code", "openid", "S256", stack.storefront.url + "/callback")
    assert len(query["code_challenge"]) == 43 and len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32


def test_success_renews_the_session_id_and_returns_to_next(browser: Browser, stack: Any) -> None:
    started = _start(browser, stack, "/orders")
    before = browser.http.cookies[COOKIE]
    done = browser.http.get(_provider_redirect(browser, stack, started))
    assert (done.status_code, done.headers["location"]) == (303, "/orders")
    after = browser.http.cookies[COOKIE]
    assert after != before  # no session fixation
    dead = httpx.get(stack.storefront.url + "/orders", cookies={COOKIE: before}, timeout=10)
    assert (dead.status_code, dead.headers["location"]) == (303, "/login?next=%2Forders")
    assert browser.http.get(stack.storefront.url + "/orders").status_code == 200


def test_session_cookie_is_httponly_samesite_lax_host_only(browser: Browser, stack: Any) -> None:
    for answer in (_start(browser, stack), None):
        if answer is None:
            answer = browser.http.get(_provider_redirect(browser, stack, _start(browser, stack)))
        (header,) = [h for h in answer.headers.get_list("set-cookie") if h.startswith(COOKIE)]
        flags = {f.strip().split("=")[0].lower(): f.strip() for f in header.split(";")[1:]}
        assert set(flags) == {"httponly", "path", "samesite"}, header
        assert (flags["path"], flags["samesite"].lower()) == ("Path=/", "samesite=lax")
        assert answer.headers["cache-control"] == "no-store"


ATTACKS = [
    ("state changed", lambda cb, other: _with_query(cb, state="forged-state"),
     "The answer from the identity provider does not belong to this login (state mismatch)."),
    ("state missing", lambda cb, other: _with_query(cb, state=None),
     "The answer from the identity provider does not belong to this login (state mismatch)."),
    ("code missing", lambda cb, other: _with_query(cb, code=None),
     "The identity provider sent no authorization code."),
    # another browser's code (an injected code) is exchanged with this session's verifier:
    # the provider refuses the PKCE check
    ("code of another login (wrong PKCE verifier)",
     lambda cb, other: _with_query(cb, code=params_of(other)["code"]),
     "the provider refused the authorization_code request: HTTP 400 invalid_grant"),
]


@pytest.mark.parametrize(("name", "tamper", "text"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_tampered_callback_is_refused_and_spends_the_login(stack: Any, name: str, tamper: Any,
                                                           text: str) -> None:
    victim, attacker = Browser(stack.idp.issuer), Browser(stack.idp.issuer)
    try:
        callback = _provider_redirect(victim, stack, _start(victim, stack))
        other = _provider_redirect(attacker, stack, _start(attacker, stack))
        refused = victim.http.get(tamper(callback, other))
        assert (refused.status_code, _title(refused)) == (400, "Login failed")
        assert text in refused.text
        assert "Log out" not in refused.text
        again = victim.http.get(callback)  # the pending login was spent by the refusal
        assert (again.status_code, _title(again)) == (400, "Login failed")
        assert "No login was started in this browser" in again.text
    finally:
        victim.close()
        attacker.close()


def test_authorization_request_without_pkce_is_refused_by_the_provider(browser: Browser,
                                                                       stack: Any) -> None:
    started = _start(browser, stack)
    stripped = _with_query(started.headers["location"], code_challenge=None,
                           code_challenge_method=None)
    answer = browser.http.get(stripped)  # storefront requires S256: the provider says no
    assert answer.status_code == 302
    back = params_of(answer.headers["location"])
    assert (back["error"], back["error_description"]) == (
        "invalid_request", "Missing parameter: code_challenge_method")
    shown = browser.http.get(answer.headers["location"])
    assert (shown.status_code, _title(shown)) == (400, "Login failed")
    assert "The identity provider said: invalid_request" in shown.text


def test_callback_without_a_started_login_is_refused(browser: Browser, stack: Any) -> None:
    answer = browser.http.get(stack.storefront.url + "/callback?code=x&state=y")
    assert (answer.status_code, _title(answer)) == (400, "Login failed")


# -- next= open redirects -----------------------------------------------------------------

NEXT_ROWS = [
    ("/orders", "/orders"), ("/?q=toaster", "/?q=toaster"), ("//evil.example/x", "/"),
    ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"), ("evil.example", "/"), (" //evil.example", "/"),
    ("/\t/evil.example", "/"), ("/a\r\nLocation: https://evil.example", "/"), ("", "/"),
]


@pytest.mark.parametrize(("value", "expected"), NEXT_ROWS, ids=[repr(r[0]) for r in NEXT_ROWS])
def test_safe_next_keeps_only_local_paths(value: str, expected: str) -> None:
    assert safe_next(value) == expected


@pytest.mark.parametrize("value", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(browser: Browser, stack: Any, value: str) -> None:
    done = _login(browser, stack, next_path=value)
    assert (done.status_code, done.headers["location"]) == (303, "/")


# -- CSRF on every form; the admin check on the server -----------------------------------

CSRF_ROWS = [("mario", "/cart", {"productId": "1", "quantity": "1"}),
             ("mario", "/checkout", {}), ("mario", "/logout", {}),
             ("admin", "/admin/products/1", {"name": "forged", "price_cents": "1"}),
             ("admin", "/admin/products", {"name": "forged", "price_cents": "1"})]


@pytest.mark.parametrize(("user", "path", "form"), CSRF_ROWS, ids=[r[1] for r in CSRF_ROWS])
@pytest.mark.parametrize("csrf", [None, "", "wrong", "other session's"])
def test_post_form_without_the_sessions_csrf_token_is_refused(
        browser: Browser, stack: Any, user: str, path: str, form: dict[str, str],
        csrf: str | None) -> None:
    front = stack.storefront.url
    if csrf == "other session's":
        other = Browser(stack.idp.issuer)
        _login(other, stack, user)
        csrf = _csrf(other, stack)
        other.close()
    _login(browser, stack, user)
    cart_before = browser.http.get(front + "/cart").text
    products_before = httpx.get(stack.shop.url + "/api/products", timeout=10).json()
    sent = dict(form) if csrf is None else {**form, "csrf": csrf}
    answer = browser.http.post(front + path, data=sent)
    assert (answer.status_code, _title(answer)) == (403, "Refused")
    assert "CSRF token missing or wrong" in answer.text
    assert browser.http.get(front + "/cart").text == cart_before  # nothing added
    assert httpx.get(stack.shop.url + "/api/products", timeout=10).json() == products_before
    assert browser.http.get(front + "/orders").status_code == 200  # not logged out


def test_the_same_form_with_the_sessions_csrf_token_is_accepted(browser: Browser,
                                                                stack: Any) -> None:
    _login(browser, stack)
    added = browser.http.post(stack.storefront.url + "/cart",
                              data={"productId": "1", "quantity": "2",
                                    "csrf": _csrf(browser, stack)})
    assert (added.status_code, added.headers["location"]) == (303, "/cart")
    assert 'id="cart-link">Cart (2)<' in browser.http.get(stack.storefront.url + "/cart").text


def test_a_cross_site_form_post_without_a_session_is_refused(stack: Any) -> None:
    answer = httpx.post(stack.storefront.url + "/cart", data={"productId": "1"}, timeout=10)
    assert answer.status_code == 403


def test_mario_is_refused_the_admin_routes_on_the_server(browser: Browser, stack: Any) -> None:
    _login(browser, stack, "mario")
    token = _csrf(browser, stack)
    page = browser.http.get(stack.storefront.url + "/admin")
    assert (page.status_code, _title(page)) == (403, "Forbidden")
    edit = browser.http.post(stack.storefront.url + "/admin/products/1",
                             data={"csrf": token, "name": "pwned", "price_cents": "1"})
    assert (edit.status_code, _title(edit)) == (403, "Forbidden")
    assert httpx.get(stack.shop.url + "/api/products/1", timeout=10).json()["name"] != "pwned"


def test_protected_pages_without_a_session_ask_to_log_in(stack: Any) -> None:
    for path in ("/checkout", "/orders", "/admin", "/orders/confirmation"):
        answer = httpx.get(stack.storefront.url + path, timeout=10)
        assert (answer.status_code, answer.headers["location"]) == (
            303, "/login?" + urllib.parse.urlencode({"next": path}))


def test_logout_sends_id_token_hint_and_the_post_logout_uri(browser: Browser, stack: Any) -> None:
    _login(browser, stack)
    token = _csrf(browser, stack)
    out = browser.http.post(stack.storefront.url + "/logout", data={"csrf": token})
    assert out.status_code == 303
    target = out.headers["location"]
    assert target.startswith(stack.idp.issuer + "/protocol/openid-connect/logout?")
    query = params_of(target)
    assert (query["client_id"], query["post_logout_redirect_uri"]) == (
        "storefront", stack.storefront.url + "/")
    assert query["id_token_hint"].count(".") == 2
    assert COOKIE not in browser.http.cookies  # cleared by the answer
    ended = browser.http.get(target)
    assert (ended.status_code, ended.headers["location"]) == (302, stack.storefront.url + "/")




def _valid_id_token_checks(stack: Any) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    answer = httpx.get(stack.storefront.url + "/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return sum(s.value for family in text_string_to_metric_families(answer.text)
               for s in family.samples
               if s.name == "svcauth_receiver_verifications_total"
               and s.labels.get("svcauth_outcome") == "valid")


def test_storefront_serves_metrics_and_counts_each_login_s_id_token(browser: Browser,
                                                                    stack: Any) -> None:
    before = _valid_id_token_checks(stack)
    assert _login(browser, stack).status_code == 303
    assert _valid_id_token_checks(stack) == before + 1  # one new ID token, verified once
