"""Every refusal of the token endpoint, with Keycloak 26's status, error and description."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from devidp_support import JWT_BEARER, assertion, jwt_form, post

from svcauth.devidp import DevIdP
from svcauth.devidp._jwsinput import JSON_FAILURE

INVALID = "Invalid client or Invalid client credentials"


@dataclass(frozen=True)
class Case:
    name: str
    form: dict[str, str]
    status: int
    error: str
    description: str
    auth: tuple[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None
    public_realm: bool = False
    """Run on the test-only realm whose storefront is public with direct access grants."""


def _cases(env: dict[str, str]) -> list[Case]:
    shop = env["SHOP_API_CLIENT_SECRET"]
    front = env["STOREFRONT_CLIENT_SECRET"]
    cc = "client_credentials"
    return [
        Case("wrong_secret_post", {"grant_type": cc, "client_id": "shop-api",
                                   "client_secret": shop + "x"},
             401, "unauthorized_client", INVALID),
        Case("wrong_secret_basic", {"grant_type": cc}, 401, "unauthorized_client", INVALID,
             auth=("shop-api", "nope")),
        Case("missing_secret", {"grant_type": cc, "client_id": "shop-api"},
             401, "unauthorized_client", INVALID),
        Case("another_clients_secret", {"grant_type": cc, "client_id": "reporting-job",
                                        "client_secret": shop},
             401, "unauthorized_client", INVALID),
        Case("unknown_client", {"grant_type": cc, "client_id": "no-such-client",
                                "client_secret": "x"}, 401, "invalid_client", INVALID),
        Case("missing_client_id", {"grant_type": cc}, 401, "invalid_client", INVALID),
        Case("client_without_service_account", {
            "grant_type": cc, "client_id": "notification-service",
            "client_secret": env["NOTIFICATION_SERVICE_CLIENT_SECRET"]},
             401, "unauthorized_client", "Client not enabled to retrieve service account"),
        Case("public_client_credentials", {"grant_type": cc, "client_id": "storefront"},
             401, "unauthorized_client",
             "Public client not allowed to retrieve service account", public_realm=True),
        Case("password_grant_disabled", {"grant_type": "password", "client_id": "shop-api",
                                         "client_secret": shop, "username": "alice",
                                         "password": env["ALICE_PASSWORD"]},
             400, "unauthorized_client", "Client not allowed for direct access grants"),
        Case("storefront_password_grant_disabled", {
            "grant_type": "password", "client_id": "storefront", "client_secret": front,
            "username": "alice", "password": env["ALICE_PASSWORD"]},
             400, "unauthorized_client", "Client not allowed for direct access grants"),
        Case("authorization_code_without_code", {"grant_type": "authorization_code",
                                                 "client_id": "shop-api", "client_secret": shop},
             400, "invalid_request", "Missing parameter: code"),
        Case("authorization_code_unknown_code", {"grant_type": "authorization_code",
                                                 "client_id": "storefront", "code": "abc",
                                                 "client_secret": front},
             400, "invalid_grant", "Code not valid"),
        Case("keycloak_grant_not_implemented_here", {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": "shop-api", "client_secret": shop},
             400, "unsupported_grant_type", "Unsupported grant_type"),
        Case("keycloak_grant_still_authenticates_first", {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": "shop-api", "client_secret": "wrong"},
             401, "unauthorized_client", INVALID),
        Case("duplicated_parameter", {}, 400, "invalid_request", "duplicated parameter",
             raw=f"grant_type=client_credentials&client_id=shop-api&client_secret={shop}"
                 "&scope=email&scope=profile"),
        Case("duplicated_parameter_after_client_authentication", {}, 401,
             "unauthorized_client", INVALID,
             raw="grant_type=client_credentials&client_id=shop-api&client_secret=x"
                 "&scope=email&scope=profile"),
        Case("unknown_grant", {"grant_type": "magic"}, 400, "unsupported_grant_type",
             "Unsupported grant_type"),
        Case("missing_grant", {"client_id": "shop-api", "client_secret": shop},
             400, "invalid_request", "Missing form parameter: grant_type"),
        Case("invalid_scope", {"grant_type": cc, "client_id": "shop-api",
                               "client_secret": shop, "scope": "email admin"},
             400, "invalid_scope", "Invalid scopes: email admin"),
        Case("secret_for_jwt_client", {"grant_type": cc, "client_id": "inventory-sync",
                                       "client_secret": shop},
             400, "invalid_client", "Parameter client_assertion_type is missing"),
        Case("wrong_password", {"grant_type": "password", "client_id": "storefront",
                                "username": "alice", "password": "wrong"},
             400, "invalid_grant", "Invalid user credentials", public_realm=True),
        Case("unknown_user", {"grant_type": "password", "client_id": "storefront",
                              "username": "mallory", "password": "x"},
             400, "invalid_grant", "Invalid user credentials", public_realm=True),
        Case("service_account_user_by_password", {
            "grant_type": "password", "client_id": "storefront",
            "username": "service-account-shop-api", "password": ""},
             400, "invalid_grant", "Invalid user credentials", public_realm=True),
        Case("empty_body_without_content_type", {}, 400, "invalid_request",
             "Missing form parameter: grant_type"),
    ]


CASE_NAMES = [
    "wrong_secret_post", "wrong_secret_basic", "missing_secret", "another_clients_secret",
    "unknown_client", "missing_client_id", "client_without_service_account",
    "public_client_credentials", "password_grant_disabled", "storefront_password_grant_disabled",
    "authorization_code_without_code",
    "authorization_code_unknown_code", "keycloak_grant_not_implemented_here",
    "keycloak_grant_still_authenticates_first", "duplicated_parameter",
    "duplicated_parameter_after_client_authentication", "unknown_grant", "missing_grant", "invalid_scope", "secret_for_jwt_client",
    "wrong_password", "unknown_user", "service_account_user_by_password",
    "empty_body_without_content_type",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_refusal(idp: DevIdP, public_idp: DevIdP, dev_env: dict[str, str], name: str) -> None:
    case = next(c for c in _cases(dev_env) if c.name == name)
    if case.public_realm:
        idp = public_idp
    kwargs: dict[str, Any] = {"headers": case.headers}
    if case.auth:
        kwargs["auth"] = case.auth
    if case.raw is not None:
        response = httpx.post(idp.token_endpoint, content=case.raw, timeout=10, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    else:
        response = post(idp.token_endpoint, case.form, **kwargs)
    assert (response.status_code, response.json()) == (
        case.status, {"error": case.error, "error_description": case.description})


def test_table_covers_every_case(dev_env: dict[str, str]) -> None:
    assert [c.name for c in _cases(dev_env)] == CASE_NAMES


@functools.cache
def _stranger() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwt_cases(idp: DevIdP) -> dict[str, tuple[dict[str, str], str]]:
    now = time.time()
    stranger = _stranger()
    iss = idp.issuer
    prefix = "Client authentication with signed JWT failed: "
    cases = [
        ("bad_signature", jwt_form(assertion(iss, key=stranger)),
         prefix + "Signature on JWT token failed validation"),
        ("aud_list", jwt_form(assertion([iss, idp.token_endpoint])),
         "Multiple audiences not allowed"),
        ("wrong_aud", jwt_form(assertion("http://elsewhere/realms/techstore")),
         "Invalid token audience"),
        ("aud_of_other_realm", jwt_form(assertion(iss.replace("techstore", "master"))),
         "Invalid token audience"),
        ("exp_too_far_without_iat", jwt_form(assertion(iss, exp_in=120, iat=False)),
         "Token expiration is too far in the future and iat claim not present in token"),
        ("iat_too_old", jwt_form(assertion(iss, now=now - 90, exp_in=120)),
         "Token was issued too far in the past to be used now"),
        ("issued_in_future", jwt_form(assertion(iss, now=now + 60)),
         "Token was issued in the future"),
        ("expired", jwt_form(assertion(iss, now=now - 50, exp_in=20)), "Token is not active"),
        ("missing_exp", jwt_form(assertion(iss, with_exp=False)),
         "Token exp claim is required"),
        ("missing_jti", jwt_form(assertion(iss, jti=None)), "Token jti claim is required"),
        ("wrong_alg", jwt_form(assertion(iss, alg="PS256")), "Invalid signature algorithm"),
        ("unknown_kid", jwt_form(assertion(iss, kid="not-a-kid")), "Unable to load public key"),
        ("iss_not_sub", jwt_form(assertion(iss, iss="someone-else")),
         prefix + "Issuer mismatch. The issuer should match the subject"),
        ("client_id_mismatch", jwt_form(assertion(iss), client_id="shop-api"),
         "client_id parameter does not match authenticated client"),
        ("wrong_assertion_type", {"grant_type": "client_credentials",
                                  "client_assertion_type": "urn:x",
                                  "client_assertion": assertion(iss)},
         f"Parameter client_assertion_type has value 'urn:x' but expected is '{JWT_BEARER}'"),
        ("missing_assertion", {"grant_type": "client_credentials",
                               "client_assertion_type": JWT_BEARER},
         "client_assertion parameter missing"),
        ("garbage_assertion", jwt_form("not-a-jwt"),
         prefix + "java.lang.IllegalArgumentException: Parsing error"),
        ("short_payload", jwt_form("not.a.jwt"), prefix + "java.lang.IllegalArgumentException: "
         "Input byte[] should at least have 2 bytes for base64 bytes"),
        ("type_checked_after_parsing", {"grant_type": "client_credentials",
                                        "client_assertion_type": "urn:x",
                                        "client_assertion": "x.y.z"},
         prefix + "java.lang.IllegalArgumentException: "
         "Input byte[] should at least have 2 bytes for base64 bytes"),
        ("header_not_json", jwt_form("abcd.e30.abcd"), prefix + JSON_FAILURE),
    ]
    return {name: (form, description) for name, form, description in cases}


JWT_CASE_NAMES = [
    "bad_signature", "aud_list", "wrong_aud", "aud_of_other_realm", "exp_too_far_without_iat",
    "iat_too_old", "issued_in_future", "expired", "missing_exp", "missing_jti", "wrong_alg",
    "unknown_kid", "iss_not_sub", "client_id_mismatch", "wrong_assertion_type",
    "missing_assertion", "garbage_assertion", "short_payload", "type_checked_after_parsing",
    "header_not_json",
]


@pytest.mark.parametrize("name", JWT_CASE_NAMES)
def test_private_key_jwt_refusal(idp: DevIdP, name: str) -> None:
    form, description = _jwt_cases(idp)[name]
    response = post(idp.token_endpoint, form)
    assert (response.status_code, response.json()) == (
        400, {"error": "invalid_client", "error_description": description})


def test_jwt_table_covers_every_case(idp: DevIdP) -> None:
    assert sorted(_jwt_cases(idp)) == sorted(JWT_CASE_NAMES)


def test_replayed_jti_is_refused(idp: DevIdP) -> None:
    token = assertion(idp.issuer)
    first = post(idp.token_endpoint, jwt_form(token))
    second = post(idp.token_endpoint, jwt_form(token))
    assert first.status_code == 200
    assert (second.status_code, second.json()) == (
        400, {"error": "invalid_client", "error_description": "Token reuse detected"})


def test_jti_may_be_reused_once_the_first_assertion_expired(realm: Any) -> None:
    clock = [time.time()]
    with DevIdP(realm, clock=lambda: clock[0]) as provider:
        token = assertion(provider.issuer, now=clock[0], exp_in=10, jti="same-jti")
        assert post(provider.token_endpoint, jwt_form(token)).status_code == 200
        again = assertion(provider.issuer, now=clock[0], exp_in=10, jti="same-jti")
        assert post(provider.token_endpoint, jwt_form(again)).status_code == 400
        clock[0] += 30
        later = assertion(provider.issuer, now=clock[0], exp_in=10, jti="same-jti")
        assert post(provider.token_endpoint, jwt_form(later)).status_code == 200


def test_a_disabled_client_is_refused_like_an_unknown_one(dev_env: dict[str, str]) -> None:
    import json

    from devidp_support import REALM_FILE

    from svcauth.devidp._realm import realm_from_dict

    data = json.loads(REALM_FILE.read_text())
    for client in data["clients"]:
        if client["clientId"] == "shop-api":
            client["enabled"] = False
    with DevIdP(realm_from_dict(data, dev_env)) as provider:
        response = post(provider.token_endpoint, {
            "grant_type": "client_credentials", "client_id": "shop-api",
            "client_secret": dev_env["SHOP_API_CLIENT_SECRET"]})
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_a_json_body_is_415(idp: DevIdP) -> None:
    response = httpx.post(idp.token_endpoint, json={"grant_type": "client_credentials"},
                          timeout=10)
    assert (response.status_code, response.json()) == (
        415, {"error": "HTTP 415 Unsupported Media Type"})


def test_a_bearer_only_client_gets_no_token(dev_env: dict[str, str]) -> None:
    import json

    from devidp_support import REALM_FILE

    from svcauth.devidp._realm import realm_from_dict

    data = json.loads(REALM_FILE.read_text())
    for client in data["clients"]:
        if client["clientId"] == "shop-api":
            client["bearerOnly"] = True
    with DevIdP(realm_from_dict(data, dev_env)) as provider:
        response = post(provider.token_endpoint, {
            "grant_type": "client_credentials", "client_id": "shop-api",
            "client_secret": dev_env["SHOP_API_CLIENT_SECRET"]})
    assert (response.status_code, response.json()) == (
        400, {"error": "invalid_client", "error_description": "Bearer-only not allowed"})
