"""What every framework integration is checked against: one guard, one set of requests,
and the exact answer each must get (status, body, WWW-Authenticate)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from svcauth._jwk import public_jwk
from svcauth._jws import sign_compact
from svcauth.receiver import RemoteKeySet, ServicePolicy, StaticKeySet, Verifier
from svcauth.receiver._guard import Guard

ISSUER = "http://127.0.0.1:8080/realms/techstore"
AUDIENCE = "notification-service"
NOW = 1_800_000_000
KID = "rsa-1"
REALM = "techstore"
ROLE = "notification-service:notifications:send"
CHALLENGE = f'Bearer realm="{REALM}"'


@cache
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@cache
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def claims(client: str = "shop-api", **overrides: Any) -> dict[str, Any]:
    """A Keycloak client-credentials token's claims."""
    c: dict[str, Any] = {
        "exp": NOW + 300, "iat": NOW - 5, "jti": "j-1", "iss": ISSUER,
        "aud": [AUDIENCE, "account"], "sub": "7c0b-service-account", "typ": "Bearer",
        "azp": client, "client_id": client, "scope": "email profile",
        "resource_access": {"notification-service": {"roles": ["notifications:send"]}},
        "preferred_username": f"service-account-{client}",
    }
    c.update(overrides)
    return {k: v for k, v in c.items() if v is not None}


def token(c: dict[str, Any] | None = None, *, key: rsa.RSAPrivateKey | None = None) -> str:
    return sign_compact(c or claims(), key or signing_key(), "RS256", {"typ": "JWT", "kid": KID})


def make_guard(*, key_set: Any = None) -> Guard[Any]:
    """The guard every integration is built with: shop-api, cart-reminder-job and
    inventory-sync may call, holding the notifications:send role of notification-service."""
    jwks = {"keys": [public_jwk(signing_key(), kid=KID, alg="RS256", use="sig")]}
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, clock=lambda: float(NOW),
                        key_set=key_set or StaticKeySet(jwks, issuer=ISSUER))
    policy = ServicePolicy(allowed_clients=("shop-api", "cart-reminder-job", "inventory-sync"),
                           required_roles=(ROLE,))
    return Guard(verifier, policy, realm=REALM)


def unavailable_guard() -> Guard[Any]:
    """A guard whose JWKS endpoint answers 500: every token meets jwks_unavailable."""
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    key_set = RemoteKeySet(ISSUER + "/protocol/openid-connect/certs", issuer=ISSUER,
                           http_client=httpx.Client(transport=transport),
                           async_http_client=httpx.AsyncClient(transport=transport))
    return make_guard(key_set=key_set)


@dataclass(frozen=True)
class Case:
    """One request and the exact answer it must get."""

    name: str
    headers: Callable[[], list[tuple[str, Any]]]
    status: int
    body: dict[str, str]
    challenge: str | None
    query: str = ""


def _auth(value: Callable[[], str]) -> Callable[[], list[tuple[str, Any]]]:
    return lambda: [("Authorization", value())]


INVALID = CHALLENGE + ', error="invalid_token", error_description='

CASES: list[Case] = [
    Case("valid_token", _auth(lambda: f"Bearer {token()}"), 200, {"client_id": "shop-api"}, None),
    Case("lower_case_bearer", _auth(lambda: f"bearer {token()}"), 200, {"client_id": "shop-api"}, None),
    Case("no_token", lambda: [], 401, {"error": "No token provided"}, CHALLENGE),
    Case("basic_scheme", _auth(lambda: "Basic c2hvcC1hcGk6c2VjcmV0"), 401,
         {"error": "No token provided"}, CHALLENGE),
    Case("query_token_only", lambda: [], 401, {"error": "No token provided"}, CHALLENGE,
         query="access_token=abc"),
    Case("expired", _auth(lambda: f"Bearer {token(claims(exp=NOW - 31))}"), 401,
         {"error": "Token expired"}, INVALID + '"The access token expired"'),
    Case("garbage_token", _auth(lambda: "Bearer abc"), 401, {"error": "Invalid token"},
         INVALID + '"The access token is malformed"'),
    Case("alg_none", _auth(lambda: "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."), 401,
         {"error": "Invalid token"}, INVALID + '"The access token algorithm is not accepted"'),
    Case("forged_signature", _auth(lambda: f"Bearer {token(key=attacker_key())}"), 401,
         {"error": "Invalid token"}, INVALID + '"The access token signature is invalid"'),
    Case("wrong_audience", _auth(lambda: f"Bearer {token(claims(aud='account'))}"), 401,
         {"error": "Invalid token"}, INVALID + '"The access token is meant for another audience"'),
    Case("user_token", _auth(lambda: f"Bearer {token(claims('storefront', client_id=None))}"), 403,
         {"error": "This endpoint only accepts service account tokens"}, None),
    Case("reporting_job", _auth(lambda: f"Bearer {token(claims('reporting-job'))}"), 403,
         {"error": "Unauthorized service"}, None),
    Case("missing_role", _auth(lambda: f"Bearer {token(claims(resource_access={}))}"), 403,
         {"error": "Insufficient scope"},
         CHALLENGE + ', error="insufficient_scope", error_description="The access token lacks a '
         f'required role or scope", scope="{ROLE}"'),
    Case("repeated_headers", lambda: [("Authorization", f"Bearer {token()}"),
                                      ("Authorization", f"Bearer {token()}")], 400,
         {"error": "Invalid request"}, None),
    Case("header_and_query_token", _auth(lambda: f"Bearer {token()}"), 400,
         {"error": "Invalid request"},
         CHALLENGE + ', error="invalid_request", error_description="Several credentials were sent"',
         query="access_token=abc"),
    Case("header_and_percent_encoded_query_token", _auth(lambda: f"Bearer {token()}"), 400,
         {"error": "Invalid request"},
         CHALLENGE + ', error="invalid_request", error_description="Several credentials were sent"',
         query="access%5Ftoken=abc"),
    Case("malformed_header", _auth(lambda: "Bearer a b c"), 400, {"error": "Invalid request"},
         CHALLENGE + ', error="invalid_request", error_description="The Authorization header is '
         'malformed"'),
    Case("oversized_token", _auth(lambda: "Bearer " + "a" * 20_000), 401,
         {"error": "Invalid token"}, INVALID + '"The access token is too large"'),
    Case("latin1_bytes", lambda: [("Authorization", "Bearer caf\u00e9".encode("latin-1"))], 400, {"error": "Invalid request"},
         CHALLENGE + ', error="invalid_request", error_description="The Authorization header is '
         'malformed"'),
]

# Repeated headers reach the app as two values (ASGI) or joined with ", " (WSGI): both are 400,
# with the description naming what the app saw.
REPEATED_DESCRIPTIONS = {
    "asgi": "Several Authorization headers were sent",
    "wsgi": "The Authorization header is malformed",
}


def check(case: Case, status: int, body: Any, headers: httpx.Headers | Any, *, server: str = "asgi") -> None:
    """Assert the exact answer of ``case``."""
    assert status == case.status, (case.name, status, body)
    assert body == case.body, case.name
    challenge = case.challenge
    if case.name == "repeated_headers":
        challenge = (CHALLENGE + ', error="invalid_request", error_description="'
                     + REPEATED_DESCRIPTIONS[server] + '"')
    assert headers.get("www-authenticate") == challenge, case.name
    if status >= 400:
        assert headers.get("content-type") == "application/json", case.name
        assert headers.get("cache-control") == "no-store", case.name


def secrets_in(text: str) -> list[str]:
    """Token fragments (signature tails) of every token the cases use that appear in text."""
    fragments = [token()[-12:], token(key=attacker_key())[-12:],
                 token(claims(exp=NOW - 31))[-12:], token(claims("reporting-job"))[-12:]]
    return [f for f in fragments if f in text]


class _QuietWSGI(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` with wsgiref in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietWSGI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def uvicorn_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
