"""The HTTP shell: Keycloak's paths on a stdlib ``ThreadingHTTPServer``.

``Router`` maps one request to one answer (faults, counters, the log line); the
handler only moves bytes. Nothing here logs a body, a secret, an assertion or a token.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .._telemetry._records import provider_request
from . import _login_page as pages
from ._browser import BrowserFlows
from ._browser_page import Page
from ._clientauth import AuthContext, JtiCache, presented_client_id
from ._dpop import TokenEndpointDPoP, proofs_of
from ._exchange import TOKEN_EXCHANGE
from ._grants import Outcome, handle_introspection, handle_token_request
from ._issuer import TokenIssuer
from ._metadata import discovery_document
from ._stats import Faults, Stats

log = logging.getLogger("svcauth.devidp")

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?\Z")
_NOT_FOUND = {"error": "Unable to find matching target resource method",
              "error_description": "For more on this error consult the server log."}
_NO_REALM = {"error": "Realm does not exist", "error_description": "Realm does not exist"}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer."""

    status: int
    """HTTP status."""
    body: Mapping[str, Any] = field(repr=False)
    """JSON body."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers."""
    raw: bytes | None = field(default=None, repr=False)
    """A non-JSON body (browser pages) sent instead of ``body``."""
    content_type: str = "application/json"
    """``Content-Type``."""
    cookies: tuple[str, ...] = ()
    """``Set-Cookie`` values."""


_ENDPOINTS = {"": "realm", ".well-known/openid-configuration": "discovery",
              "protocol/openid-connect/token": "token",
              "protocol/openid-connect/certs": "certs",
              "protocol/openid-connect/token/introspect": "introspect",
              "devidp/stats": "stats"}
"""Path below ``/realms/<realm>/`` → endpoint name."""


@dataclass
class Router:
    """Routes requests to the endpoints of one realm, under ``auth_path``."""

    issuer: TokenIssuer
    """Mints and checks tokens."""
    auth_path: str
    """``""`` or a prefix such as ``/auth``."""
    fixed_base: str | None
    """Pinned base URL for ``iss`` (like Keycloak's ``--hostname``); None: the Host header."""
    default_base: str
    """Base URL used when a request has no usable Host header."""
    clock: Callable[[], float]
    """Injectable time."""
    stats: Stats
    """Counters."""
    faults: Faults
    """Injected faults."""
    wake: threading.Event
    """Set on stop so that an injected delay ends early."""
    jti_cache: JtiCache = field(default_factory=JtiCache)
    """Replay cache for client assertions."""
    dpop: TokenEndpointDPoP = field(default_factory=TokenEndpointDPoP)
    """DPoP proofs at the token endpoint (their replay cache included)."""
    browser: BrowserFlows | None = None
    """The browser endpoints and their sessions (made from ``issuer`` when None)."""

    def __post_init__(self) -> None:
        if self.browser is None:
            self.browser = BrowserFlows(
                self.issuer, f"{self.auth_path}/realms/{self.issuer.realm.name}/")

    def issuer_url(self, host: str | None) -> str:
        """The issuer for a request with this Host header (start-dev without --hostname)."""
        if self.fixed_base is not None:
            base = self.fixed_base
        elif host and _HOST.fullmatch(host):
            base = f"http://{host}"
        else:
            base = self.default_base
        return f"{base}{self.auth_path}/realms/{self.issuer.realm.name}"

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
               client_ip: str, query: str = "") -> Answer:
        """Answer one request and write its log line."""
        client_id: str | None = None
        grant: str | None = None
        answer: Answer
        with provider_request(method, self._route_name(path), headers) as record:
            try:
                answer, client_id, grant = self._route(method, path, headers, body,
                                                       client_ip, query)
            except Exception:  # pragma: no cover - a bug must not kill the server thread
                log.exception("devidp internal error on %s %s", method, path)
                answer = Answer(500, {"error": "unknown_error"})
            error = answer.body.get("error") if answer.status >= 400 else None
            record.status, record.client_id = answer.status, client_id
            if isinstance(error, str):
                record.error = error
                self.stats.error(error)
        log.info("%s %s client_id=%s grant=%s status=%d", method, path, client_id or "-",
                 grant or "-", answer.status)
        return answer

    def _route_name(self, path: str) -> str:
        # Keycloak's span names are its JAX-RS route templates (seen on 26.7.3:
        # "POST /realms/{realm}/protocol/{protocol}/token"): one name per endpoint, not per
        # realm. Unknown paths share one name, so no request can mint span names.
        prefix = f"{self.auth_path}/realms/{self.issuer.realm.name}"
        rest = path[len(prefix):] if path.startswith(prefix) else None
        if rest is None or (rest.lstrip("/") not in _ENDPOINTS
                            and rest.lstrip("/") not in BROWSER_PATHS):
            return "unmatched"
        rest = rest.replace("/protocol/openid-connect/", "/protocol/{protocol}/", 1)
        return f"{self.auth_path}/realms/{{realm}}{rest}"

    def _route(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
               client_ip: str, query: str = "") -> tuple[Answer, str | None, str | None]:
        prefix = f"{self.auth_path}/realms/"
        if not path.startswith(prefix):
            return Answer(404, _NOT_FOUND), None, None
        realm, _, rest = path[len(prefix):].partition("/")
        if realm != self.issuer.realm.name:
            return Answer(404, _NO_REALM), None, None
        endpoint = _ENDPOINTS.get(rest)
        allowed = {"discovery": "GET", "certs": "GET", "stats": "GET", "realm": "GET",
                   "token": "POST", "introspect": "POST"}
        if endpoint is None and rest in BROWSER_PATHS:
            return self._browser(rest, method, headers, body, query), None, None
        if endpoint is None:
            return Answer(404, _NOT_FOUND), None, None
        if method != allowed[endpoint]:
            return Answer(405, {"error": "HTTP 405 Method Not Allowed"},
                          {"Allow": allowed[endpoint]}), None, None
        counter = {"discovery": "discovery_fetches", "certs": "jwks_fetches",
                   "introspect": "introspections"}.get(endpoint)
        if counter:
            self.stats.count(counter)
        form, duplicated = _form(headers, body) if method == "POST" else ({}, False)
        if endpoint == "token":
            self.stats.token_request(_named_client(form, headers), form.get("grant_type"))
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if endpoint == "token" and ctype and ctype != "application/x-www-form-urlencoded":
            # The token endpoint @Consumes form data only (RESTEasy answers 415).
            return Answer(415, {"error": "HTTP 415 Unsupported Media Type"}), None, None
        faulted = self._fault(endpoint)
        if faulted is not None:
            return faulted, None, form.get("grant_type")
        issuer = self.issuer_url(headers.get("host"))
        if endpoint == "discovery":
            return Answer(200, discovery_document(issuer)), None, None
        if endpoint == "certs":
            return Answer(200, self.issuer.keys.jwks()), None, None
        if endpoint == "stats":
            return Answer(200, self.stats.snapshot(), _NO_STORE), None, None
        if endpoint == "realm":
            return Answer(200, {"realm": realm, "token-service":
                                f"{issuer}/protocol/openid-connect",
                                "not-before-policy": 0}), None, None
        ctx = AuthContext(realm=self.issuer.realm, issuer=issuer,
                          token_endpoint=f"{issuer}/protocol/openid-connect/token",
                          now=self.clock(), jti_cache=self.jti_cache)
        outcome: Outcome
        if endpoint == "token":
            audiences = _repeatable(body, "audience") if form.get("audience") else ()
            if audiences and form.get("grant_type") == TOKEN_EXCHANGE:
                duplicated = _form(headers, body, repeatable=("audience",))[1]
            outcome = handle_token_request(self.issuer, ctx, form, headers.get("authorization"),
                                           client_ip, duplicated, self.dpop, proofs_of(headers),
                                           audiences, browser=self.browser)
            assert self.browser is not None
            cors = self.browser.cors_headers(outcome.client_id, headers.get("origin"))
            return (Answer(outcome.status, outcome.body, {**_NO_STORE, **cors}),
                    outcome.client_id, outcome.grant)
        else:
            outcome = handle_introspection(self.issuer, ctx, form, headers.get("authorization"),
                                           duplicated)
        return Answer(outcome.status, outcome.body, _NO_STORE), outcome.client_id, outcome.grant

    def _browser(self, rest: str, method: str, headers: Mapping[str, str], body: bytes,
                 query: str) -> Answer:
        """The browser endpoints (``_browser``): HTML, redirects and cookies."""
        flows = self.browser
        assert flows is not None
        issuer = self.issuer_url(headers.get("host"))
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        form = _form(headers, body)[0] if method == "POST" else {}
        cookie, now, oidc = headers.get("cookie"), self.clock(), "protocol/openid-connect"
        static = {f"{oidc}/3p-cookies/step1.html": pages.STEP1,
                  f"{oidc}/3p-cookies/step2.html": pages.STEP2,
                  f"{oidc}/login-status-iframe.html": pages.LOGIN_STATUS_IFRAME}
        page: Page
        if method == "OPTIONS" and rest == f"{oidc}/userinfo":
            origin = headers.get("origin")
            page = Page(200, headers={} if not origin else {
                "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "3600"})
        elif rest in static:
            page = Page(200, static[rest])
        elif method not in ("GET", "POST"):
            return Answer(405, {"error": "HTTP 405 Method Not Allowed"}, {"Allow": "GET, POST"})
        elif rest == f"{oidc}/auth":
            page = flows.authorize({**params, **form}, cookie, issuer,
                                   f"{issuer}/login-actions/authenticate", now)
        elif rest == "login-actions/authenticate":
            page = flows.login(params, form, issuer, f"{issuer}/login-actions/authenticate", now)
        elif rest == f"{oidc}/userinfo":
            page = flows.userinfo(headers.get("authorization"), form, issuer,
                                  headers.get("origin"), now)
        elif rest == f"{oidc}/logout":
            page = flows.logout({**params, **form}, cookie, issuer,
                                f"{issuer}/{oidc}/logout/logout-confirm", now)
        elif rest == f"{oidc}/logout/logout-confirm":
            page = flows.confirm_logout(form, cookie, issuer, now)
        else:
            page = flows.iframe_init(params)
        if page.json is not None:
            return Answer(page.status, page.json, page.headers, cookies=page.cookies)
        return Answer(page.status, {}, page.headers, raw=page.body,
                      content_type=page.content_type, cookies=page.cookies)

    def _fault(self, endpoint: str) -> Answer | None:
        if endpoint not in ("token", "certs", "discovery"):
            return None
        fault = self.faults.take(endpoint)
        if fault is None:
            return None
        self.stats.fault(endpoint)
        if fault.delay > 0:
            self.wake.wait(fault.delay)
        if fault.status is None:
            return None
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        error = "temporarily_unavailable" if fault.status in (429, 503) else "server_error"
        return Answer(fault.status, {"error": error,
                                     "error_description": "fault injected by devidp"}, headers)


BROWSER_PATHS = frozenset({
    "protocol/openid-connect/auth", "login-actions/authenticate",
    "protocol/openid-connect/userinfo", "protocol/openid-connect/logout",
    "protocol/openid-connect/logout/logout-confirm",
    "protocol/openid-connect/3p-cookies/step1.html",
    "protocol/openid-connect/3p-cookies/step2.html",
    "protocol/openid-connect/login-status-iframe.html",
    "protocol/openid-connect/login-status-iframe.html/init"})
"""Paths (after ``/realms/<realm>/``) served by ``_browser``."""


def _repeatable(body: bytes, name: str) -> tuple[str, ...]:
    """Every value of form parameter ``name`` (token exchange's ``audience`` repeats)."""
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return tuple(dict.fromkeys(v for k, v in pairs if k == name))


def _form(headers: Mapping[str, str], body: bytes,
          repeatable: tuple[str, ...] = ()) -> tuple[dict[str, str], bool]:
    """The form's first values, and whether any parameter (other than those
    ``repeatable``) appeared more than once."""
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}, False
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}, False
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    counted = sum(1 for key, _ in pairs if key not in repeatable)
    return form, len([k for k in form if k not in repeatable]) != counted


def _named_client(form: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    return presented_client_id(form, headers.get("authorization"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the delayed ACK of keep-alive
    # clients adds ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20)) if length > 0 else b""
        split = urllib.parse.urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.server.router.handle(self.command, split.path, headers, body,
                                           self.client_address[0], split.query)
        payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
        if answer.status in (204, 302) and answer.raw is not None:
            payload = b""
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        for cookie in answer.cookies:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib access log: ``Router.handle`` writes a safer one."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], router: Router) -> None:
        self.router = router
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._conns_lock:
            self._conns.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Close kept-alive connections so a stopped provider really is unreachable."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


def serve(address: tuple[str, int], router: Router) -> tuple[_Server, threading.Thread]:
    """Bind ``address`` and serve ``router`` in a daemon thread."""
    server = _Server(address, router)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"devidp-{server.server_address[1]}", daemon=True)
    thread.start()
    return server, thread
