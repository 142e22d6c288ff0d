"""The browser flow's HTML: login form, error and logout pages, the ``form_post`` answer,
the third-party-cookie check pages and the login-status iframe. No external assets; every
value is HTML-escaped; the scripts are the minimum keycloak-js needs."""

from __future__ import annotations

import html
from collections.abc import Mapping

_STYLE = ("body{font-family:sans-serif;background:#f0f0f0;margin:0}"
          "main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;"
          "border-top:4px solid #06c}h1{font-size:1.3rem}label{display:block;margin-top:1rem}"
          "input{width:100%;padding:.4rem;box-sizing:border-box}"
          "button{margin-top:1.5rem;width:100%;padding:.5rem;background:#06c;color:#fff;"
          "border:0}.alert{background:#fde;border-left:3px solid #c00;padding:.5rem}")


def _page(title: str, body: str) -> bytes:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>").encode()


def login_page(realm: str, action: str, *, username: str = "", error: str | None = None) -> bytes:
    """The username/password form (field names as Keycloak's ``login.ftl``)."""
    alert = (f"<div class=\"alert\" id=\"input-error\" role=\"alert\">{html.escape(error)}</div>"
             if error else "")
    return _page(f"Sign in to {realm}", (
        f"<h1 id=\"kc-page-title\">Sign in to your account</h1>{alert}"
        f"<form id=\"kc-form-login\" action=\"{html.escape(action)}\" method=\"post\">"
        f"<label for=\"username\">Username or email</label>"
        f"<input id=\"username\" name=\"username\" value=\"{html.escape(username)}\" "
        f"type=\"text\" autofocus autocomplete=\"username\">"
        f"<label for=\"password\">Password</label>"
        f"<input id=\"password\" name=\"password\" type=\"password\" "
        f"autocomplete=\"current-password\">"
        f"<input type=\"hidden\" id=\"id-hidden-input\" name=\"credentialId\">"
        f"<button name=\"login\" id=\"kc-login\" type=\"submit\">Sign In</button></form>"
        f"<p><small>svcauth development identity provider, realm "
        f"{html.escape(realm)}</small></p>"))


def error_page(message: str) -> bytes:
    """Keycloak's error page: "We are sorry..." and the message."""
    return _page("We are sorry...", f"<h1 id=\"kc-page-title\">We are sorry...</h1>"
                 f"<p id=\"kc-error-message\" class=\"instruction\">{html.escape(message)}</p>")


def info_page(title: str, message: str) -> bytes:
    """A page with one message (e.g. "You are logged out")."""
    return _page(title, f"<h1 id=\"kc-page-title\">{html.escape(title)}</h1>"
                 f"<p class=\"instruction\">{html.escape(message)}</p>")


def logout_confirm_page(action: str, fields: Mapping[str, str]) -> bytes:
    """The "Do you want to log out?" page of a logout request without ``id_token_hint``."""
    hidden = "".join(f"<input type=\"hidden\" name=\"{html.escape(k)}\" "
                     f"value=\"{html.escape(v)}\">" for k, v in fields.items())
    return _page("Logging out", "<h1 id=\"kc-page-title\">Logging out</h1>"
                 "<p class=\"instruction\">Do you want to log out?</p>"
                 f"<form action=\"{html.escape(action)}\" method=\"post\">{hidden}"
                 "<button name=\"confirmLogout\" id=\"kc-logout\" type=\"submit\" "
                 "value=\"Logout\">Logout</button></form>")


def form_post_page(action: str, fields: Mapping[str, str]) -> bytes:
    """``response_mode=form_post``: a form that posts itself to the redirect URI."""
    hidden = "".join(f"<input type=\"hidden\" name=\"{html.escape(k)}\" "
                     f"value=\"{html.escape(v)}\">" for k, v in fields.items())
    return (f"<!DOCTYPE html><html><head><title>Submit This Form</title></head>"
            f"<body onload=\"javascript:document.forms[0].submit()\">"
            f"<form method=\"post\" action=\"{html.escape(action)}\">{hidden}"
            f"<noscript><button type=\"submit\">Continue</button></noscript></form>"
            f"</body></html>").encode()


# Third-party cookie check (keycloak-js loads step1 in an iframe and waits for a message).
STEP1 = (b"<!DOCTYPE html><html><body><script>"
         b"document.cookie='KEYCLOAK_3P_COOKIE_SAMESITE=supported; Max-Age=60; SameSite=None; Secure';"
         b"document.cookie='KEYCLOAK_3P_COOKIE=supported; Max-Age=60';"
         b"window.location='step2.html';</script></body></html>")
STEP2 = (b"<!DOCTYPE html><html><body><script>"
         b"var ok=document.cookie.indexOf('KEYCLOAK_3P_COOKIE')!==-1;"
         b"document.cookie='KEYCLOAK_3P_COOKIE_SAMESITE=; Max-Age=0; SameSite=None; Secure';"
         b"document.cookie='KEYCLOAK_3P_COOKIE=; Max-Age=0';"
         b"window.parent.postMessage(ok?'supported':'unsupported','*');"
         b"</script></body></html>")

# The login-status iframe: keycloak-js posts "clientId sessionState"; the first message of a
# (client, origin) asks /init whether that origin may use it, every message is answered
# unchanged/changed/error by comparing the KEYCLOAK_SESSION cookie with sessionState.
LOGIN_STATUS_IFRAME = (
    b"<!DOCTYPE html><html><body><script>"
    b"var checked={};"
    b"function cookie(){var m=document.cookie.match(/(?:^|; )KEYCLOAK_SESSION=([^;]*)/);"
    b"return m?decodeURIComponent(m[1]):null}"
    b"function init(client,origin){var key=client+' '+origin;if(!checked[key]){"
    b"checked[key]=fetch('login-status-iframe.html/init?client_id='+encodeURIComponent(client)+"
    b"'&origin='+encodeURIComponent(origin),{credentials:'include'})"
    b".then(function(r){return r.status===204},function(){return false})}return checked[key]}"
    b"window.addEventListener('message',function(e){"
    b"if(typeof e.data!=='string')return;"
    b"var parts=e.data.split(' '),client=parts[0],sid=parts[1]||'';"
    b"init(client,e.origin).then(function(ok){"
    b"var s=!ok?'error':(sid&&cookie()===sid?'unchanged':'changed');"
    b"e.source.postMessage(s,e.origin)})},false);"
    b"</script></body></html>")
