"""Django and DRF: every attack row of the integration kit over real servers (wsgiref for
WSGI, uvicorn for ASGI), through DRF's authentication class, DRF's permission classes,
``require_service`` on sync and async views, and ``ServiceAuthMiddleware`` in sync and
async chains."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django_site  # configures Django settings: import before anything Django
import httpx
import pytest
from django.test import override_settings
from django_servers import django_server
from integration_kit import CASES, CHALLENGE, Case, check, claims, token

# (server, middleware?) -> paths it serves; every path must give every row's exact answer.
ROUTES = {
    ("wsgi", False): ["/drf/notifications", "/drf-perm/notifications", "/deco/notifications",
                      "/deco-async/notifications"],
    ("wsgi", True): ["/mw/notifications", "/mw-async/notifications"],
    ("asgi", False): ["/drf/notifications", "/drf-perm/notifications", "/deco/notifications",
                      "/deco-async/notifications"],
    ("asgi", True): ["/mw/notifications", "/mw-async/notifications"],
}
ROWS = [(kind, mw, route, case) for (kind, mw), routes in ROUTES.items() for route in routes
        for case in CASES]


@pytest.fixture(scope="module", autouse=True)
def site_settings() -> Iterator[None]:
    with override_settings(**django_site.SETTINGS):
        yield


@pytest.fixture(scope="module")
def servers(site_settings: None) -> Iterator[dict[tuple[str, bool], str]]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield {key: stack.enter_context(django_server(key[0], middleware=key[1]))
               for key in ROUTES}


@pytest.mark.parametrize(("kind", "middleware", "route", "case"), ROWS,
                         ids=[f"{k}-{'mw' if m else 'view'}-{r.split('/')[1]}-{c.name}"
                              for k, m, r, c in ROWS])
def test_every_answer_is_exact_over_a_real_server(
    servers: dict[tuple[str, bool], str], kind: str, middleware: bool, route: str, case: Case,
) -> None:
    with httpx.Client(base_url=servers[(kind, middleware)], timeout=10) as http:
        response = http.post(route + (f"?{case.query}" if case.query else ""),
                             headers=case.headers())
    # WSGI servers join repeated headers with ",": refused as malformed. Under ASGI the
    # integration reads the scope's headers and names the repetition.
    check(case, response.status_code, response.json(), response.headers, server=kind)


USER = {"sub": "f3a1-alice", "preferred_username": "alice", "typ": "Bearer"}
USER_ROWS = [
    ("customer", lambda: token(claims("storefront", client_id=None,
                                      realm_access={"roles": ["customer"]}, **USER)),
     200, {"subject": "f3a1-alice"}, None),
    ("no_customer_role", lambda: token(claims("storefront", client_id=None, **USER)), 403,
     {"error": "Insufficient scope"},
     CHALLENGE + ', error="insufficient_scope", error_description="The access token lacks a '
     'required role or scope", scope="realm:customer"'),
    ("service_token", lambda: token(), 403, {"error": "This endpoint only accepts user tokens"},
     None),
    ("other_app", lambda: token(claims("admin-console", client_id=None,
                                       realm_access={"roles": ["customer"]}, **USER)),
     403, {"error": "Unauthorized client"}, None),
]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
@pytest.mark.parametrize(("name", "make", "status", "body", "challenge"), USER_ROWS,
                         ids=[r[0] for r in USER_ROWS])
def test_user_tokens_meet_the_user_policy_over_a_real_server(
    servers: dict[tuple[str, bool], str], kind: str, name: str, make: Any, status: int,
    body: dict[str, str], challenge: str | None,
) -> None:
    with httpx.Client(base_url=servers[(kind, False)], timeout=10) as http:
        response = http.post("/drf-user/checkout", headers={"Authorization": f"Bearer {make()}"})
    assert (response.status_code, response.json()) == (status, body), name
    assert response.headers.get("www-authenticate") == challenge, name


HOSTILE = [b"Bearer \xff\xfe\x00", b"Bearer " + b"\x80" * 100, b"bearer " + b"." * 7000,
           b"Bearer eyJ" + b"%" * 50, b"B\xe9arer token"]


@pytest.mark.parametrize(("kind", "middleware", "route"), [
    (kind, mw, route) for (kind, mw), routes in ROUTES.items() for route in routes])
def test_hostile_header_bytes_get_a_plain_refusal(
    servers: dict[tuple[str, bool], str], kind: str, middleware: bool, route: str,
) -> None:
    answered = 0
    with httpx.Client(base_url=servers[(kind, middleware)], timeout=10) as http:
        for value in HOSTILE:
            try:
                response = http.post(route, headers=[(b"Authorization", value)])
            except httpx.LocalProtocolError:
                continue  # the client itself refused to send it
            answered += 1
            assert response.status_code in (400, 401), (value, response.status_code)
            assert set(response.json()) == {"error"}
    assert answered >= 3
