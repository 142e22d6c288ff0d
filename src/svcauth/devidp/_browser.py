"""The browser endpoints' logic: authorization (login page, SSO, ``prompt=none``), the
login form, the code exchange and browser refresh at the token endpoint, ``/userinfo``,
RP-initiated logout, the third-party-cookie pages and the login-status iframe.

Pure apart from the session store: request parts in, :class:`Page` out; the HTTP shell in
``_server`` moves bytes. Errors and their order follow Keycloak 26.7.3 (docs/devidp.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from . import _login_page as pages
from ._browser_page import PAGE_HEADERS, Page, bearer_error, error_page, redirect, respond
from ._browser_tokens import JTI_PREFIX_CODE, JTI_PREFIX_REFRESH, browser_tokens, user_claims
from ._clientauth import AuthContext
from ._issuer import TokenIssuer
from ._oauth_error import OAuthError
from ._realm import Client, User
from ._redirects import origin_allowed, post_logout_uris, redirect_allowed
from ._sessions import AuthRequest, BrowserSettings, SessionStore, SsoSession
from ._tokens import Grant, invalid_scopes, token_scope

IDENTITY_COOKIE = "KEYCLOAK_IDENTITY"
"""HttpOnly cookie naming the SSO session (signed, HS512)."""
SESSION_COOKIE = "KEYCLOAK_SESSION"
"""Script-readable cookie the login-status iframe compares with ``session_state``."""
_PKCE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
def s256(verifier: str) -> str:
    """RFC 7636 S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class BrowserFlows:
    """The browser endpoints of one realm, with their in-memory sessions."""

    def __init__(self, issuer: TokenIssuer, cookie_path: str) -> None:
        self.issuer = issuer
        realm = issuer.realm
        self.store = SessionStore(BrowserSettings.from_realm(realm.browser,
                                                             realm.sso_session_idle))
        self.cookie_path = cookie_path
        self._logouts: dict[str, str | None] = {}

    # -- helpers -------------------------------------------------------------------
    def _user_by_id(self, user_id: str) -> User | None:
        return next((u for u in self.issuer.realm.users.values() if u.id == user_id), None)

    def _cookie(self, name: str, value: str, *, http_only: bool, secure: bool,
                max_age: int | None = None) -> str:
        parts = [f"{name}={value}", f"Path={self.cookie_path}"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        parts.append("SameSite=None; Secure" if secure else "SameSite=Lax")
        if http_only:
            parts.append("HttpOnly")
        return "; ".join(parts)

    def _session_cookies(self, session: SsoSession, issuer_url: str, now: float) -> tuple[str, ...]:
        secure = issuer_url.startswith("https:")
        ident = self.issuer.keys.sign_hmac({
            "exp": session.auth_time + self.store.settings.session_max, "iat": int(now),
            "iss": issuer_url, "sub": session.user_id, "typ": "Serialized-ID",
            "sid": session.id})
        return (self._cookie(IDENTITY_COOKIE, ident, http_only=True, secure=secure),
                self._cookie(SESSION_COOKIE, session.id, http_only=False, secure=secure))

    def _clear_cookies(self, issuer_url: str) -> tuple[str, ...]:
        secure = issuer_url.startswith("https:")
        return tuple(self._cookie(n, "", http_only=n == IDENTITY_COOKIE, secure=secure,
                                  max_age=0) for n in (IDENTITY_COOKIE, SESSION_COOKIE))

    def cookie_session(self, cookie_header: str | None, issuer_url: str,
                       now: float) -> SsoSession | None:
        """The active SSO session named by the request's identity cookie, if any."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header or "")
        except CookieError:
            return None
        morsel = jar.get(IDENTITY_COOKIE)
        claims = self.issuer.keys.verify_hmac(morsel.value) if morsel else None
        if not claims or claims.get("typ") != "Serialized-ID" or claims.get("iss") != issuer_url:
            return None
        session = self.store.active(str(claims.get("sid")), now)
        user = self._user_by_id(session.user_id) if session else None
        return session if user is not None and user.enabled else None

    def cors_headers(self, client_id: str | None, origin: str | None) -> dict[str, str]:
        """CORS headers for a browser call from ``origin`` on behalf of ``client_id``."""
        client = self.issuer.realm.clients.get(client_id or "")
        if not origin or client is None or not origin_allowed(client, origin):
            return {}
        return {"Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Expose-Headers": "Access-Control-Allow-Methods"}

    # -- authorization endpoint ----------------------------------------------------
    def authorize(self, params: Mapping[str, str], cookie_header: str | None,
                  issuer_url: str, login_action: str, now: float) -> Page:
        """``/protocol/openid-connect/auth`` (``login_action``: the form's target)."""
        client = self.issuer.realm.clients.get(params.get("client_id") or "")
        if client is None:
            return error_page("Client not found.")
        if not client.enabled:
            return error_page("Client disabled.")
        if client.bearer_only:
            return error_page("Bearer-only clients are not allowed to initiate browser login.")
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_allowed(client.redirect_uris, redirect_uri):
            return error_page("Invalid parameter: redirect_uri")
        mode = params.get("response_mode") or "query"
        request = AuthRequest(
            client_id=client.client_id, redirect_uri=redirect_uri,
            response_mode=mode if mode in ("query", "fragment", "form_post") else "query",
            scope=params.get("scope", ""), state=params.get("state"),
            nonce=params.get("nonce"), code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method") or (
                "plain" if params.get("code_challenge") else None))
        try:
            self._check_request(client, params, mode)
        except OAuthError as err:
            return respond(request, {"error": err.error, "error_description": err.description,
                                     "state": request.state, "iss": issuer_url})
        prompt = (params.get("prompt") or "").split()
        session = self.cookie_session(cookie_header, issuer_url, now)
        if session is not None and "login" not in prompt:
            return self._code_answer(request, session, issuer_url, now)
        if "none" in prompt:
            return respond(request, {"error": "login_required", "state": request.state,
                                     "iss": issuer_url})
        tab_id = self.store.put_pending(request, now)
        action = f"{login_action}?" + urllib.parse.urlencode(
            {"client_id": client.client_id, "tab_id": tab_id})
        return Page(200, pages.login_page(self.issuer.realm.name, action),
                    headers=PAGE_HEADERS)

    def _check_request(self, client: Client, params: Mapping[str, str], mode: str) -> None:
        if mode not in ("query", "fragment", "form_post"):
            raise OAuthError(400, "invalid_request", "Invalid parameter: response_mode")
        response_type = params.get("response_type")
        if not response_type:
            raise OAuthError(400, "invalid_request", "Missing parameter: response_type")
        if response_type != "code":
            raise OAuthError(400, "unsupported_response_type",
                             f"Unsupported response_type: {response_type}")
        if not client.standard_flow:
            raise OAuthError(400, "unauthorized_client",
                             "Client is not allowed to initiate browser login with given "
                             "response_type. Standard flow is disabled for the client.")
        if invalid_scopes(self.issuer.realm, client, params.get("scope", "")):
            raise OAuthError(400, "invalid_scope", f"Invalid scopes: {params.get('scope')}")
        self._check_pkce(client, params.get("code_challenge"),
                         params.get("code_challenge_method"))

    @staticmethod
    def _check_pkce(client: Client, challenge: str | None, method: str | None) -> None:
        required = client.attributes.get("pkce.code.challenge.method", "")
        if required:
            if method is None:
                raise OAuthError(400, "invalid_request",
                                 "Missing parameter: code_challenge_method")
            if method != required:
                raise OAuthError(400, "invalid_request", "Invalid parameter: code challenge "
                                 "method is not matching the configured one")
        if challenge is None:
            if method is not None:
                raise OAuthError(400, "invalid_request", "Missing parameter: code_challenge")
            return
        if not required and method is not None and method not in ("plain", "S256"):
            raise OAuthError(400, "invalid_request", "Invalid parameter: code_challenge_method")
        if not _PKCE.fullmatch(challenge):
            raise OAuthError(400, "invalid_request", "Invalid parameter: code_challenge")

    def _code_answer(self, request: AuthRequest, session: SsoSession, issuer_url: str,
                     now: float) -> Page:
        code = self.store.issue_code(request, session.id, now)
        return respond(request, {"state": request.state, "session_state": session.id,
                                 "iss": issuer_url, "code": code},
                       self._session_cookies(session, issuer_url, now))

    def login(self, query: Mapping[str, str], form: Mapping[str, str], issuer_url: str,
              login_action: str, now: float) -> Page:
        """``/login-actions/authenticate``: check the form, start the session, send a code."""
        tab_id = query.get("tab_id") or ""
        request = self.store.pending(tab_id, now)
        if request is None:
            return error_page("Your login attempt timed out. Login will start from the "
                               "beginning.")
        typed = (form.get("username") or "").strip()
        user = self._find_user(typed)
        password = form.get("password") or ""
        expected = user.password if user is not None else None
        ok = hmac.compare_digest(password.encode("utf-8"), (expected or "\0").encode("utf-8"))
        action = f"{login_action}?" + urllib.parse.urlencode(
            {"client_id": request.client_id, "tab_id": tab_id})
        if user is None or expected is None or not ok:
            return Page(200, pages.login_page(self.issuer.realm.name, action, username=typed,
                                              error="Invalid username or password."),
                        headers=PAGE_HEADERS)
        if not user.enabled:
            return Page(200, pages.login_page(self.issuer.realm.name, action, username=typed,
                                              error="Account is disabled, contact your "
                                                    "administrator."), headers=PAGE_HEADERS)
        self.store.drop_pending(tab_id)
        session = self.store.create_session(user.id, now)
        return self._code_answer(request, session, issuer_url, now)

    def _find_user(self, typed: str) -> User | None:
        users = self.issuer.realm.users
        user = users.get(typed.lower())
        if user is None and "@" in typed:
            user = next((u for u in users.values()
                         if u.email and u.email.lower() == typed.lower()), None)
        return None if user is None or user.service_account_client else user

    # -- token endpoint ------------------------------------------------------------
    def exchange_code(self, ctx: AuthContext, client: Client,
                      form: Mapping[str, str]) -> dict[str, Any]:
        """``grant_type=authorization_code`` after client authentication."""
        code = form.get("code")
        if code is None:
            raise OAuthError(400, "invalid_request", "Missing parameter: code")
        issued = self.store.redeem(code, ctx.now)
        if issued is None:
            raise OAuthError(400, "invalid_grant", "Code not valid")
        request = issued.request
        if form.get("redirect_uri") != request.redirect_uri:
            raise OAuthError(400, "invalid_grant", "Incorrect redirect_uri")
        if request.client_id != client.client_id:
            raise OAuthError(400, "invalid_grant",
                             "Auth error: Found different client_id in clientSession")
        _verify_pkce(request, form.get("code_verifier"))
        session = self.store.active(issued.session_id, ctx.now)
        user = self._user_by_id(session.user_id) if session else None
        if session is None or user is None:
            raise OAuthError(400, "invalid_grant", "Code not valid")
        return self._tokens(ctx, client, user, session, request.scope, request.nonce,
                            JTI_PREFIX_CODE)

    def _tokens(self, ctx: AuthContext, client: Client, user: User, session: SsoSession,
                scope: str, nonce: str | None, prefix: str) -> dict[str, Any]:
        grant = Grant(realm=self.issuer.realm, client=client, user=user, issuer=ctx.issuer,
                      now=int(ctx.now), scope=token_scope(scope), session_id=session.id)
        body, jti = browser_tokens(self.issuer, grant, auth_time=session.auth_time,
                                   nonce=nonce, jti_prefix=prefix,
                                   refresh_lifetime=self.store.remaining(session, ctx.now),
                                   id_token="openid" in scope.split())
        self.store.record_refresh(session, client.client_id, jti)
        return body

    def refresh(self, ctx: AuthContext, client: Client,
                claims: Mapping[str, Any]) -> dict[str, Any] | None:
        """A refresh of a browser session's token; None when it is not one (password)."""
        sid = str(claims.get("sid") or "")
        if not sid or not self.store.is_browser_session(sid):
            return None
        session = self.store.active(sid, ctx.now)
        user = self._user_by_id(session.user_id) if session else None
        if session is None or user is None or not user.enabled:
            raise OAuthError(400, "invalid_grant", "Session not active")
        if not self.store.use_refresh(session, client.client_id, str(claims.get("jti")),
                                      ctx.now):
            raise OAuthError(400, "invalid_grant",
                             "Maximum allowed refresh token reuse exceeded")
        return self._tokens(ctx, client, user, session, str(claims.get("scope", "")), None,
                            JTI_PREFIX_REFRESH)

    # -- userinfo ------------------------------------------------------------------
    def userinfo(self, authorization: str | None, form: Mapping[str, str], issuer_url: str,
                 origin: str | None, now: float) -> Page:
        """``/protocol/openid-connect/userinfo`` (Bearer header or ``access_token`` form)."""
        token = None
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        token = token or form.get("access_token")
        realm = self.issuer.realm.name
        if not token:
            return bearer_error(realm, "invalid_request", "Token not provided")
        claims = self.issuer.verified_claims(token, issuer=issuer_url, now=now)
        if claims is None or claims.get("typ") != "Bearer":
            return bearer_error(realm, "invalid_token", "Token verification failed")
        user = self._user_by_id(str(claims.get("sub")))
        sid = str(claims.get("sid") or "")
        client = self.issuer.realm.clients.get(str(claims.get("azp")))
        gone = self.store.is_browser_session(sid) and self.store.active(sid, now) is None
        if user is None or client is None or gone:
            return bearer_error(realm, "invalid_token", "User session not found or doesn't "
                                 "have client attached on it")
        grant = Grant(realm=self.issuer.realm, client=client, user=user, issuer=issuer_url,
                      now=int(now), scope=str(claims.get("scope", "")), session_id=sid or None)
        return Page(200, json=user_claims("userinfo", grant), content_type="application/json",
                    headers={"Cache-Control": "no-store",
                             **self.cors_headers(client.client_id, origin)})

    # -- logout --------------------------------------------------------------------
    def logout(self, params: Mapping[str, str], cookie_header: str | None, issuer_url: str,
               confirm_action: str, now: float) -> Page:
        """RP-initiated logout (``id_token_hint``, ``client_id``, ``post_logout_redirect_uri``,
        ``state``): without a hint, the confirmation page."""
        hint = params.get("id_token_hint")
        hinted: dict[str, Any] | None = None
        if hint:
            hinted = self.issuer.verified_claims(hint, issuer=issuer_url, now=0)
            if hinted is None or hinted.get("typ") != "ID":
                return error_page("Invalid parameter: id_token_hint")
        client_id = params.get("client_id") or (str(hinted["azp"]) if hinted else None)
        if hinted and params.get("client_id") and params["client_id"] != hinted.get("azp"):
            return error_page("Parameter client_id different than the client from "
                               "id_token_hint")
        uri = params.get("post_logout_redirect_uri")
        client = self.issuer.realm.clients.get(client_id or "")
        if uri:
            if client_id is None:
                return error_page("Missing parameters: id_token_hint")
            if client is None or not redirect_allowed(post_logout_uris(client), uri):
                return error_page("Invalid redirect uri")
        if hinted is None:
            token = secrets.token_urlsafe(16)
            self._logouts[token] = uri
            fields = {"session_code": token, **({"state": params["state"]}
                                                 if params.get("state") else {})}
            return Page(200, pages.logout_confirm_page(confirm_action, fields),
                        headers=PAGE_HEADERS)
        self.store.end(str(hinted.get("sid")))
        return self._logged_out(uri, params.get("state"), cookie_header, issuer_url, now)

    def confirm_logout(self, form: Mapping[str, str], cookie_header: str | None,
                       issuer_url: str, now: float) -> Page:
        """The confirmation page's POST."""
        token = form.get("session_code") or ""
        if token not in self._logouts:
            return error_page("Logout failed")
        uri = self._logouts.pop(token)
        return self._logged_out(uri, form.get("state"), cookie_header, issuer_url, now)

    def _logged_out(self, uri: str | None, state: str | None, cookie_header: str | None,
                    issuer_url: str, now: float) -> Page:
        session = self.cookie_session(cookie_header, issuer_url, now)
        if session is not None:
            self.store.end(session.id)
        cookies = self._clear_cookies(issuer_url)
        if uri:
            sep = "&" if "?" in uri else "?"
            target = f"{uri}{sep}{urllib.parse.urlencode({'state': state})}" if state else uri
            return redirect(target, cookies)
        return Page(200, pages.info_page("You are logged out", "You are logged out"),
                    headers=PAGE_HEADERS, cookies=cookies)

    # -- iframes -------------------------------------------------------------------
    def iframe_init(self, params: Mapping[str, str]) -> Page:
        """``login-status-iframe.html/init``: 204 when the origin may use the iframe."""
        client = self.issuer.realm.clients.get(params.get("client_id") or "")
        if client is None or not origin_allowed(client, params.get("origin") or ""):
            return Page(403)
        return Page(204)


def _verify_pkce(request: AuthRequest, verifier: str | None) -> None:
    if request.code_challenge is None:
        if verifier is not None:
            raise OAuthError(400, "invalid_grant", "PKCE code verifier specified but "
                             "challenge not present in authorization")
        return
    if verifier is None:
        raise OAuthError(400, "invalid_grant", "PKCE code verifier not specified")
    if not _PKCE.fullmatch(verifier):
        raise OAuthError(400, "invalid_grant", "PKCE verification failed: Invalid code verifier")
    expected = s256(verifier) if request.code_challenge_method == "S256" else verifier
    if not hmac.compare_digest(expected, request.code_challenge):
        raise OAuthError(400, "invalid_grant", "PKCE verification failed: Code mismatch")
