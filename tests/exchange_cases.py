"""Standard token exchange (RFC 8693) requests and the answers Keycloak 26.7.3 gives them,
shared by the embedded provider's tests and the real-Keycloak comparison.

Every expected answer below was observed on Keycloak 26.7.3 with the techstore realm plus
the two test clients of :func:`realm_with_test_clients`; the keycloak-marked tests check
them against it on every CI run.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mockmart.system.code_login import login_tokens

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
REFRESH = "urn:ietf:params:oauth:token-type:refresh_token"
ID = "urn:ietf:params:oauth:token-type:id_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"
REFRESH_CLIENT_SECRET = "dev-exchange-refresh-secret"  # a test-only client of the copy


def extra_clients() -> list[dict[str, Any]]:
    """Two test-only clients (never in the shipped realm file): ``exchange-public`` (a
    public client with standard token exchange on) and ``exchange-refresh`` (confidential,
    refresh tokens allowed in token exchange, direct grants on so that alice can log in to
    it, a service account)."""
    return [
        {"clientId": "exchange-public", "enabled": True, "protocol": "openid-connect",
         "publicClient": True, "standardFlowEnabled": False, "directAccessGrantsEnabled": True,
         "attributes": {"standard.token.exchange.enabled": "true"}},
        {"clientId": "exchange-refresh", "enabled": True, "protocol": "openid-connect",
         "publicClient": False, "clientAuthenticatorType": "client-secret",
         "secret": REFRESH_CLIENT_SECRET, "standardFlowEnabled": False,
         "directAccessGrantsEnabled": True, "serviceAccountsEnabled": True,
         "attributes": {"standard.token.exchange.enabled": "true",
                        "standard.token.exchange.enableRefreshRequestedTokenType": "SAME_SESSION"}},
    ]


def realm_with_test_clients(realm_file: Path) -> dict[str, Any]:
    """The techstore realm file's content plus :func:`extra_clients` (for the embedded
    provider; the real Keycloak gets them through its Admin API)."""
    realm = copy.deepcopy(json.loads(realm_file.read_text("utf-8")))
    realm["clients"] += extra_clients()
    return realm


@dataclass
class Subjects:
    """Tokens to exchange, obtained from one provider."""

    alice: str
    """alice's access token from the storefront (its aud holds shop-api)."""
    alice_refresh: str
    alice_id: str
    cart_service: str
    """cart-reminder-job's service-account token (shop-api is not in its aud)."""
    shop_service: str
    """shop-api's own service-account token."""
    alice_at_refresh_client: str
    """alice's access token from exchange-refresh (its own client's)."""
    alice_at_public_client: str
    refresh_client_service: str
    """exchange-refresh's own service-account token (no user session)."""


def _post(token_endpoint: str, form: dict[str, str], auth: tuple[str, str] | None = None) -> Any:
    response = httpx.post(token_endpoint, data=form, auth=auth, timeout=60.0)
    assert response.status_code == 200, (response.status_code, response.json().get("error"))
    return response.json()


def subjects(token_endpoint: str, env: dict[str, str]) -> Subjects:
    """Log alice in and get the services' tokens at ``token_endpoint``."""
    def alice(client_id: str, secret: str | None = None) -> Any:
        form = {"grant_type": "password", "client_id": client_id, "username": "alice",
                "password": env["ALICE_PASSWORD"], "scope": "openid"}
        if secret:
            form["client_secret"] = secret
        return _post(token_endpoint, form)

    # storefront has no password grant: alice logs in there with code + PKCE.
    storefront = login_tokens(token_endpoint.removesuffix("/protocol/openid-connect/token"),
                              "alice", env["ALICE_PASSWORD"],
                              client_secret=env["STOREFRONT_CLIENT_SECRET"])
    cc = {"grant_type": "client_credentials"}
    return Subjects(
        alice=storefront["access_token"], alice_refresh=storefront["refresh_token"],
        alice_id=storefront["id_token"],
        cart_service=_post(token_endpoint, cc, ("cart-reminder-job",
                                                env["CART_REMINDER_JOB_CLIENT_SECRET"]))["access_token"],
        shop_service=_post(token_endpoint, cc, ("shop-api", env["SHOP_API_CLIENT_SECRET"]))["access_token"],
        alice_at_refresh_client=alice("exchange-refresh", REFRESH_CLIENT_SECRET)["access_token"],
        alice_at_public_client=alice("exchange-public")["access_token"],
        refresh_client_service=_post(token_endpoint, cc, ("exchange-refresh",
                                                          REFRESH_CLIENT_SECRET))["access_token"],
    )


Form = Callable[[Subjects], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """One exchange request, who sends it, and Keycloak's answer."""

    form: Form
    client: str = "shop-api"
    """``shop-api`` / ``cart-reminder-job`` / ``exchange-refresh`` (HTTP Basic) or
    ``exchange-public`` (client_id in the form)."""
    status: int = 400
    error: str = "invalid_request"
    description: str = ""


def _ex(subject: Callable[[Subjects], str], **extra: Any) -> Form:
    return lambda s: {"grant_type": TOKEN_EXCHANGE, "subject_token": subject(s),
                      "subject_token_type": ACCESS, **extra}


def _alice(s: Subjects) -> str:
    return s.alice


_NOT_FOR_STANDARD = "is not supported for standard token exchange"

REFUSALS: dict[str, Case] = {
    "client without standard token exchange": Case(
        _ex(_alice), client="cart-reminder-job",
        description="Standard token exchange is not enabled for the requested client"),
    "storefront client": Case(
        _ex(_alice), client="storefront",
        description="Standard token exchange is not enabled for the requested client"),
    "public client with the switch on": Case(
        _ex(_alice), client="exchange-public", error="invalid_client",
        description="Public client is not allowed to exchange token"),
    "requester not in the subject's aud": Case(
        _ex(lambda s: s.cart_service), status=403, error="access_denied",
        description="Client is not within the token audience"),
    "audience not in the subject token": Case(
        _ex(_alice, audience="inventory-sync"),
        description="Requested audience not available: inventory-sync"),
    "audience of the requester itself": Case(
        _ex(_alice, audience="shop-api"), description="Requested audience not available: shop-api"),
    "audience storefront (never widens)": Case(
        _ex(_alice, audience="storefront"),
        description="Requested audience not available: storefront"),
    "unknown audience": Case(_ex(_alice, audience="nobody"), error="invalid_client",
                             description="Audience not found"),
    "refresh token as subject": Case(
        lambda s: {"grant_type": TOKEN_EXCHANGE, "subject_token": s.alice_refresh,
                   "subject_token_type": REFRESH},
        description="Parameter 'subject_token' supports access tokens only"),
    "id token as subject": Case(
        lambda s: {"grant_type": TOKEN_EXCHANGE, "subject_token": s.alice_id,
                   "subject_token_type": ID},
        description="Parameter 'subject_token' supports access tokens only"),
    "jwt subject type": Case(_ex(_alice, subject_token_type=JWT),
                             description="Parameter 'subject_token' supports access tokens only"),
    "id token typed as an access token": Case(_ex(lambda s: s.alice_id),
                                              description="Invalid token"),
    "refresh token typed as an access token": Case(_ex(lambda s: s.alice_refresh),
                                                   description="Invalid token"),
    "garbage subject token": Case(_ex(lambda s: "abc.def.ghi"), description="Invalid token"),
    "no subject_token": Case(
        lambda s: {"grant_type": TOKEN_EXCHANGE, "subject_token_type": ACCESS},
        description="Parameter 'subject_token' required for standard token exchange"),
    "no subject_token_type": Case(
        lambda s: {"grant_type": TOKEN_EXCHANGE, "subject_token": s.alice},
        description="Parameter 'subject_token_type' required for standard token exchange"),
    "refresh token not allowed for the client": Case(
        _ex(_alice, requested_token_type=REFRESH),
        description="requested_token_type unsupported"),
    "unknown requested token type": Case(_ex(_alice, requested_token_type="foo"),
                                         description="requested_token_type unsupported"),
    "unknown scope": Case(_ex(_alice, scope="nonexistent"), error="invalid_scope",
                          description="Invalid scopes: nonexistent"),
    "requested_subject (impersonation)": Case(
        _ex(_alice, requested_subject="alice"),
        description=f"Parameter 'requested_subject' {_NOT_FOR_STANDARD}"),
    "requested_issuer": Case(_ex(_alice, requested_issuer="x"),
                             description=f"Parameter 'requested_issuer' {_NOT_FOR_STANDARD}"),
    "subject_issuer": Case(_ex(_alice, subject_issuer="x"),
                           description=f"Parameter 'subject_issuer' {_NOT_FOR_STANDARD}"),
    "service-account subject asking for a refresh token": Case(
        _ex(lambda s: s.refresh_client_service, requested_token_type=REFRESH),
        client="exchange-refresh",
        description="Refresh token not valid as requested_token_type because creating a new "
                    "session is needed"),
}
"""Refusals: each answered with exactly ``(status, error, error_description)``."""


SECRETS = {"shop-api": "SHOP_API_CLIENT_SECRET",
           "cart-reminder-job": "CART_REMINDER_JOB_CLIENT_SECRET",
           "storefront": "STOREFRONT_CLIENT_SECRET"}


def send(token_endpoint: str, env: dict[str, str], case: Case,
         subjects_: Subjects) -> httpx.Response:
    """Send ``case`` to ``token_endpoint`` as its client."""
    form = dict(case.form(subjects_))
    auth: tuple[str, str] | None = None
    if case.client in SECRETS:
        auth = (case.client, env[SECRETS[case.client]])
    elif case.client == "exchange-refresh":
        auth = (case.client, REFRESH_CLIENT_SECRET)
    else:
        form["client_id"] = case.client
    pairs: list[tuple[str, str]] = []
    for key, value in form.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((key, one))
    return httpx.post(token_endpoint, content=urllib.parse.urlencode(pairs),
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      auth=auth, timeout=60.0)
