"""What the browser endpoints answer: :class:`Page`, the error page, redirects, the
authorization response in its response mode, and RFC 6750 errors of ``/userinfo``."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _login_page as pages
from ._sessions import AuthRequest

_HTML = "text/html;charset=utf-8"
PAGE_HEADERS = {"Cache-Control": "no-store, must-revalidate, max-age=0",
                "X-Frame-Options": "SAMEORIGIN",
                "Content-Security-Policy": "frame-src 'self'; frame-ancestors 'self'; "
                                           "object-src 'none';"}
"""Headers of every HTML page, as Keycloak's login and error pages send them."""


@dataclass(frozen=True)
class Page:
    """One answer of a browser endpoint."""

    status: int
    """HTTP status."""
    body: bytes = b""
    """The body (HTML, or JSON when ``json`` is set)."""
    content_type: str = _HTML
    """``Content-Type``."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers (``Location``, CORS, caching)."""
    cookies: tuple[str, ...] = ()
    """``Set-Cookie`` values."""
    json: dict[str, Any] | None = field(default=None, repr=False)
    """A JSON body instead of ``body`` (``/userinfo``)."""


def error_page(message: str, status: int = 400) -> Page:
    return Page(status, pages.error_page(message), headers=PAGE_HEADERS)


def redirect(location: str, cookies: tuple[str, ...] = ()) -> Page:
    return Page(302, headers={"Location": location, "Cache-Control": "no-store"},
                cookies=cookies)


def respond(request: AuthRequest, params: Mapping[str, str | None],
            cookies: tuple[str, ...] = ()) -> Page:
    """Send ``params`` back to the redirect URI in the request's response mode."""
    values = {k: v for k, v in params.items() if v is not None}
    if request.response_mode == "form_post":
        return Page(200, pages.form_post_page(request.redirect_uri, values),
                    headers={"Cache-Control": "no-store"}, cookies=cookies)
    query = urllib.parse.urlencode(values, quote_via=urllib.parse.quote)
    if request.response_mode == "fragment":
        return redirect(f"{request.redirect_uri}#{query}", cookies)
    sep = "&" if "?" in request.redirect_uri else "?"
    return redirect(f"{request.redirect_uri}{sep}{query}", cookies)



def bearer_error(realm: str, error: str, description: str) -> Page:
    return Page(401, json={"error": error, "error_description": description},
                content_type="application/json",
                headers={"WWW-Authenticate": f'Bearer realm="{realm}", error="{error}", '
                                             f'error_description="{description}"'})
