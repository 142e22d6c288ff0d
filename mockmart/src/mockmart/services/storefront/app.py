"""The storefront's ASGI app (Starlette): login/logout plumbing here, shop pages in
:mod:`.pages`.

- ``GET /login?next=`` starts code + PKCE; ``GET /callback`` checks ``state``, exchanges the
  code (client secret + verifier), checks the ID token and renews the session id.
- ``POST /logout`` (CSRF) deletes the session and sends the browser to the provider's
  end-session endpoint with ``id_token_hint`` and ``post_logout_redirect_uri``.
- Every page answers ``Cache-Control: no-store`` (the back button after logout asks again).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mockmart.config import MockMartConfig
from mockmart.services.storefront.oidc import (
    LoginFailed,
    OidcClient,
    TokenSet,
    authorization_url,
    logout_url,
    new_login,
    state_matches,
    unverified_claims,
)
from mockmart.services.storefront.sessions import Session, SessionStore
from mockmart.services.storefront.settings import StorefrontSettings
from mockmart.services.storefront.shop import ShopAnswer, ShopClient

__all__ = ["COOKIE", "Storefront", "create_app", "safe_next"]

COOKIE = "mockmart_session"
"""The session cookie: an opaque id, HttpOnly, SameSite=Lax, Path=/."""

_TEMPLATES = Path(__file__).with_name("templates")


def safe_next(value: str | None) -> str:
    """``value`` when it is a local path (``/...``, not ``//host`` or ``/\\host``, no scheme,
    no control characters), else ``/``: the login's return target cannot leave the shop."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return "/"
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


class Storefront:
    """The app's state: settings, sessions, the provider and shop-api clients, templates."""

    def __init__(self, settings: StorefrontSettings, *, clock: Callable[[], float] = time.time,
                 oidc: OidcClient | None = None, shop: ShopClient | None = None) -> None:
        import jinja2

        self.settings = settings
        self.clock = clock
        self.sessions = SessionStore(settings.session_idle, clock)
        self.oidc = oidc or OidcClient(settings, clock=clock)
        self.shop = shop or ShopClient(settings.shop_url)
        self.jinja = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
                                        autoescape=True)

    # -- sessions and pages ------------------------------------------------------------
    def session(self, request: Request) -> Session | None:
        """The live session named by the request's cookie."""
        return self.sessions.get(request.cookies.get(COOKIE))

    def base_url(self, request: Request) -> str:
        """The storefront's public base URL."""
        return self.settings.public_url or str(request.base_url).rstrip("/")

    def with_cookie(self, response: Response, session: Session | None) -> Response:
        """Set (or clear, for None) the session cookie; forbid caching."""
        response.headers["Cache-Control"] = "no-store"
        if session is None:
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                                   secure=self.settings.secure_cookies)
        else:
            response.set_cookie(COOKIE, session.id, path="/", httponly=True, samesite="lax",
                                secure=self.settings.secure_cookies)
        return response

    def render(self, name: str, session: Session | None, status: int = 200,
               **context: Any) -> Response:
        """A page from ``templates/<name>`` with the session's user, cart size and CSRF."""
        page = self.jinja.get_template(name).render(
            user=session.user if session and session.logged_in else None,
            csrf=session.csrf if session else "",
            cart_count=sum(session.cart.values()) if session else 0,
            is_admin=self.is_admin(session), **context)
        return self.with_cookie(HTMLResponse(page, status), session)

    def message(self, session: Session | None, status: int, title: str, text: str,
                kind: str = "error") -> Response:
        """A page saying one thing (errors, the checkout refusal, 403)."""
        return self.render("message.html", session, status, title=title, text=text, kind=kind)

    def is_admin(self, session: Session | None) -> bool:
        """Whether the session's user holds the admin realm role."""
        return bool(session and session.logged_in
                    and self.settings.admin_role in session.user.get("roles", ()))

    def login_redirect(self, request: Request) -> Response:
        """To ``/login`` with this page as ``next``."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return self.with_cookie(RedirectResponse(
            "/login?" + urllib.parse.urlencode({"next": target}), 303), self.session(request))

    async def form(self, request: Request, session: Session | None) -> dict[str, str] | None:
        """The urlencoded POST body, or None when its CSRF token is not the session's."""
        raw = (await request.body()).decode("utf-8", errors="replace")
        fields = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        if session is None or not session.csrf_ok(fields.get("csrf")):
            return None
        return fields

    # -- tokens ---------------------------------------------------------------------------
    async def access_token(self, session: Session) -> str | None:
        """The session's access token, renewed first when it (nearly) ran out; None (and
        logged out locally) when the refresh is refused."""
        tokens = session.tokens
        if tokens is None:
            return None
        if tokens.expires_at - self.settings.refresh_margin > self.clock():
            return tokens.access_token
        return await self._refresh(session, tokens)

    async def _refresh(self, session: Session, tokens: TokenSet) -> str | None:
        try:
            session.tokens = await self.oidc.refresh(tokens)
        except LoginFailed:
            session.tokens, session.user = None, {}
            return None
        session.user = self._user(session.tokens)
        return session.tokens.access_token

    async def call(self, session: Session,
                   fn: Callable[[str], Awaitable[ShopAnswer]]) -> ShopAnswer | None:
        """Call shop-api with the user's token; after a 401 renew once and retry. None: the
        session has no usable token any more (the page asks to log in)."""
        token = await self.access_token(session)
        if token is None:
            return None
        answer = await fn(token)
        if answer.status == 401 and session.tokens is not None:
            token = await self._refresh(session, session.tokens)
            if token is None:
                return None
            answer = await fn(token)
        return answer

    def _user(self, tokens: TokenSet) -> dict[str, Any]:
        claims = unverified_claims(tokens.access_token)
        realm_access = claims.get("realm_access") or {}
        roles = realm_access.get("roles", []) if isinstance(realm_access, dict) else []
        username = claims.get("preferred_username") or claims.get("sub") or "?"
        return {"username": username, "name": claims.get("name") or username,
                "email": claims.get("email") or "", "roles": sorted(map(str, roles))}

    # -- login and logout -------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        """``GET /login?next=``: a pending login in the session, then to the provider."""
        session = self.session(request) or self.sessions.create()
        session.login = new_login(safe_next(request.query_params.get("next")), self.clock())
        url = authorization_url(await self.oidc.authorization_endpoint(), self.settings.client_id,
                                self.base_url(request) + "/callback", session.login)
        return self.with_cookie(RedirectResponse(url, 303), session)

    async def callback(self, request: Request) -> Response:
        """``GET /callback``: state, code exchange, ID token; the session renewed."""
        session = self.session(request)
        params = request.query_params
        pending = session.login if session else None
        if session is None or pending is None:
            return self.message(session, 400, "Login failed",
                                "No login was started in this browser (or it timed out). "
                                "Please log in again.")
        session.login = None  # one use, whatever happens next
        if self.clock() - pending.started > self.settings.login_timeout:
            return self.message(session, 400, "Login failed", "The login took too long. "
                                "Please log in again.")
        if not state_matches(pending.state, params.get("state")):
            return self.message(session, 400, "Login failed", "The answer from the identity "
                                "provider does not belong to this login (state mismatch).")
        if "error" in params:
            return self.message(session, 400, "Login failed", "The identity provider said: "
                                + params["error"][:80])
        code = params.get("code")
        if not code:
            return self.message(session, 400, "Login failed", "The identity provider sent no "
                                "authorization code.")
        try:
            tokens = await self.oidc.exchange(code, pending, self.base_url(request) + "/callback")
        except LoginFailed as exc:
            return self.message(session, 400, "Login failed", exc.message)
        session = self.sessions.renew(session)
        session.tokens, session.user = tokens, self._user(tokens)
        return self.with_cookie(RedirectResponse(pending.next_path, 303), session)

    async def logout(self, request: Request) -> Response:
        """``POST /logout``: the local session is gone, then the provider's logout."""
        session = self.session(request)
        if await self.form(request, session) is None:
            return self.message(session, 403, "Refused", "This form is not from this "
                                "session (CSRF token missing or wrong).")
        assert session is not None
        tokens = session.tokens
        self.sessions.delete(session)
        if tokens is None:
            return self.with_cookie(RedirectResponse("/", 303), None)
        url = logout_url(await self.oidc.end_session_endpoint(), self.settings.client_id,
                         tokens.id_token, self.base_url(request) + "/")
        return self.with_cookie(RedirectResponse(url, 303), None)

    async def healthz(self, request: Request) -> Response:
        """``GET /healthz``: up, and how many sessions are held."""
        return JSONResponse({"status": "ok", "service": "storefront",
                             "sessions": len(self.sessions)})


def create_app(config: MockMartConfig | None = None, *,
               settings: StorefrontSettings | None = None,
               storefront: Storefront | None = None) -> Starlette:
    """The storefront ASGI app (``config`` is the registry's; the storefront reads its
    settings from the environment: :meth:`StorefrontSettings.from_env`)."""
    from mockmart.services.storefront.pages import page_routes

    front = storefront or Storefront(settings or StorefrontSettings.from_env())

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await front.oidc.aclose()
        await front.shop.aclose()

    routes = [Route("/login", front.login), Route("/callback", front.callback),
              Route("/logout", front.logout, methods=["POST"]),
              Route("/healthz", front.healthz), *page_routes(front)]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.storefront = front
    return app
