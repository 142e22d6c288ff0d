"""A scripted browser for the authorization-code flow: httpx with a cookie jar, no
automatic redirects, the provider's login form posted as a user would.

``Stack.user_token()`` logs users in with it (MockMart has no password grant on its user
paths), and the tests drive the embedded provider and a real Keycloak through it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Browser", "LoginError", "code_flow", "login_response", "login_tokens", "page_text",
           "params_of", "pkce_pair"]

CALLBACK = "http://127.0.0.1/callback"
"""The redirect URI the scripted logins use: storefront's loopback callback (any port
matches; nothing listens there, the redirect is read, never followed)."""

_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"')


class LoginError(RuntimeError):
    """The provider did not end the login with a redirect back to the client."""


def page_text(page: str) -> str:
    """A page's visible text, for error messages."""
    body = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", page)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def pkce_pair() -> tuple[str, str]:
    """A fresh RFC 7636 ``(code_verifier, S256 code_challenge)``."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def params_of(location: str) -> dict[str, str]:
    """The query or fragment parameters of a redirect ``Location``."""
    parts = urllib.parse.urlsplit(location)
    raw = parts.fragment or parts.query
    return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))


def _client() -> httpx.Client:
    """httpx as a browser on loopback: Keycloak marks its cookies ``SameSite=None; Secure``
    even on http, and browsers send Secure cookies to http://127.0.0.1; the stdlib jar does
    not, so they are unmarked as they arrive (httpx copies the jar per request, so a cookie
    policy would be lost)."""
    client = httpx.Client(timeout=20, follow_redirects=False)

    def unsecure(_: httpx.Response) -> None:
        for cookie in client.cookies.jar:
            if cookie.domain in ("127.0.0.1", "localhost"):
                cookie.secure = False

    client.event_hooks["response"] = [unsecure]
    return client


@dataclass
class Browser:
    """One user agent: a cookie jar and the provider's realm URL."""

    realm_url: str
    """``<base>[/auth]/realms/<realm>``."""
    http: httpx.Client = field(default_factory=_client)
    """The cookie jar's client (no automatic redirects)."""

    def auth_url(self, **params: str) -> str:
        """The authorization endpoint with ``params``."""
        return f"{self.realm_url}/protocol/openid-connect/auth?" + urllib.parse.urlencode(params)

    def authorize(self, **params: str) -> httpx.Response:
        """GET the authorization endpoint."""
        return self.http.get(self.auth_url(**params))

    def submit_login(self, page: httpx.Response, username: str,
                     password: str) -> httpx.Response:
        """Post the login form found on ``page``."""
        match = _ACTION.search(page.text)
        if not match:
            raise LoginError(f"expected the provider's login form, found: "
                             f"{page_text(page.text)[:300]}")
        action = html.unescape(match.group(1))
        return self.http.post(action, data={"username": username, "password": password,
                                            "credentialId": ""})

    def login(self, username: str, password: str, **params: str) -> dict[str, str]:
        """Run /auth and the login form; the parameters of the redirect back."""
        page = self.authorize(**params)
        if page.status_code == 302:  # an SSO session: no login page
            return params_of(page.headers["location"])
        if page.status_code != 200:
            raise LoginError(f"/auth: expected the login page (200), found "
                             f"{page.status_code}: {page_text(page.text)[:300]}")
        done = self.submit_login(page, username, password)
        if done.status_code != 302:
            raise LoginError(f"login form: expected a redirect (302), found "
                             f"{done.status_code}: {page_text(done.text)[:300]}")
        return params_of(done.headers["location"])

    def token(self, auth: tuple[str, str] | None = None, **form: str) -> httpx.Response:
        """POST the token endpoint (``auth``: client id and secret, HTTP Basic)."""
        return self.http.post(f"{self.realm_url}/protocol/openid-connect/token", data=form,
                              auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def login_response(realm_url: str, username: str, password: str, *,
                   client_id: str = "storefront", client_secret: str | None = None,
                   redirect_uri: str = CALLBACK, nonce: str | None = None) -> httpx.Response:
    """Log ``username`` in through the login form in a fresh cookie jar and exchange the
    code: the token endpoint's raw answer (any status). ``nonce``: fixed, else random."""
    browser = Browser(realm_url)
    try:
        verifier, challenge = pkce_pair()
        got = browser.login(username, password, client_id=client_id,
                            redirect_uri=redirect_uri, response_type="code", scope="openid",
                            state=secrets.token_urlsafe(8), nonce=nonce or secrets.token_urlsafe(8),
                            code_challenge=challenge, code_challenge_method="S256")
        if "code" not in got:
            raise LoginError(f"expected a code in the redirect, found {sorted(got)}: "
                             f"{got.get('error')} {got.get('error_description')}")
        form = {"grant_type": "authorization_code", "code": got["code"],
                "redirect_uri": redirect_uri, "code_verifier": verifier}
        if client_secret is None:
            form["client_id"] = client_id
        return browser.token(None if client_secret is None else (client_id, client_secret),
                             **form)
    finally:
        browser.close()


def login_tokens(realm_url: str, username: str, password: str, *,
                 client_id: str = "storefront", client_secret: str | None = None,
                 redirect_uri: str = CALLBACK) -> dict[str, Any]:
    """:func:`login_response`'s token body; :class:`LoginError` unless it is a 200."""
    answer = login_response(realm_url, username, password, client_id=client_id,
                            client_secret=client_secret, redirect_uri=redirect_uri)
    if answer.status_code != 200:
        raise LoginError(f"code exchange: expected 200, found {answer.status_code}: "
                         f"{answer.text[:300]}")
    body: dict[str, Any] = answer.json()
    return body


def code_flow(browser: Browser, client_id: str, redirect_uri: str, username: str,
              password: str, *, client_secret: str | None = None,
              **extra: str) -> tuple[dict[str, str], dict[str, Any], str]:
    """A full code + PKCE (S256) flow: the redirect's parameters, the token body, the
    verifier. A confidential client authenticates with ``client_secret`` (HTTP Basic)."""
    verifier, challenge = pkce_pair()
    got = browser.login(username, password, client_id=client_id, redirect_uri=redirect_uri,
                        response_type="code", scope="openid", state="st-1", nonce="n-1",
                        code_challenge=challenge, code_challenge_method="S256", **extra)
    if "code" not in got:
        raise LoginError(f"expected a code in the redirect, found {sorted(got)}: "
                         f"{got.get('error')} {got.get('error_description')}")
    form = {"grant_type": "authorization_code", "code": got["code"],
            "redirect_uri": redirect_uri, "code_verifier": verifier}
    auth = None
    if client_secret is None:
        form["client_id"] = client_id
    else:
        auth = (client_id, client_secret)
    answer = browser.token(auth, **form)
    if answer.status_code != 200:
        raise LoginError(f"code exchange: expected 200, found {answer.status_code}: "
                         f"{answer.text[:300]}")
    return got, answer.json(), verifier
