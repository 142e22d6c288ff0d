"""A scripted browser for the authorization-code flow: httpx with a cookie jar, no
automatic redirects, the login form posted as a user would. Shared by the embedded
provider's tests and the comparison with a real Keycloak."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx

_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"')


def _text(page: str) -> str:
    """A page's visible text, for assertion messages."""
    body = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", page)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def pkce_pair() -> tuple[str, str]:
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
    http: httpx.Client = field(default_factory=_client)

    def auth_url(self, **params: str) -> str:
        return f"{self.realm_url}/protocol/openid-connect/auth?" + urllib.parse.urlencode(params)

    def authorize(self, **params: str) -> httpx.Response:
        return self.http.get(self.auth_url(**params))

    def submit_login(self, page: httpx.Response, username: str,
                     password: str) -> httpx.Response:
        match = _ACTION.search(page.text)
        assert match, "no login form on the page"
        action = match.group(1).replace("&amp;", "&")
        return self.http.post(action, data={"username": username, "password": password,
                                            "credentialId": ""})

    def login(self, username: str, password: str, **params: str) -> dict[str, str]:
        """Run /auth and the login form; the redirect's parameters."""
        page = self.authorize(**params)
        if page.status_code == 302:  # an SSO session: no login page
            return params_of(page.headers["location"])
        assert page.status_code == 200, _text(page.text)[:300]
        done = self.submit_login(page, username, password)
        assert done.status_code == 302, (done.status_code, _text(done.text)[:800],
                                         dict(done.headers))
        return params_of(done.headers["location"])

    def token(self, **form: str) -> httpx.Response:
        return self.http.post(f"{self.realm_url}/protocol/openid-connect/token", data=form)

    def close(self) -> None:
        self.http.close()


def code_flow(browser: Browser, client_id: str, redirect_uri: str, username: str,
              password: str, **extra: str) -> tuple[dict[str, str], dict[str, Any], str]:
    """A full code + PKCE flow: the redirect's parameters, the token body, the verifier."""
    verifier, challenge = pkce_pair()
    got = browser.login(username, password, client_id=client_id, redirect_uri=redirect_uri,
                        response_type="code", scope="openid", state="st-1", nonce="n-1",
                        code_challenge=challenge, code_challenge_method="S256", **extra)
    answer = browser.token(grant_type="authorization_code", code=got["code"],
                           client_id=client_id, redirect_uri=redirect_uri,
                           code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    return got, answer.json(), verifier
