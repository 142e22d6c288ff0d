"""MockMart's payment edge: token exchange (RFC 8693) + DPoP (RFC 9449) on one call.

shop-api exchanges mario's storefront token for a payment-service token while sending a
DPoP proof, so the exchanged token is bound to shop-api's key; payment-service requires DPoP
and records the user (``sub``) and the acting service (``azp``). Run on the embedded
provider and on real Keycloak 26.7.3 (``[keycloak]``, marked ``keycloak``): both bind an
exchanged token when the exchange request carries a proof.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import httpx
import pytest

from mockmart.config import client_secret_variable
from svcauth import TokenEndpointError
from svcauth.caller import (
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
    DPoPKey,
    TokenExchanger,
)
from svcauth.httpx import BearerAuth


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return result


def _ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def _exchanger(stack: Any, key: DPoPKey | None) -> TokenExchanger:
    secret = stack.options.env[client_secret_variable("shop-api")]
    return TokenExchanger(ClientCredentialsSource(ClientConfig(
        client_id="shop-api", auth=ClientSecretBasic(secret),
        token_endpoint=stack.idp.token_endpoint, dpop=key)))


def _charge(stack: Any, **request: Any) -> httpx.Response:
    return httpx.post(stack.backends["payment-service"].url + "/api/payments",
                      json={"orderId": "ord_test", "amount_cents": 1999}, timeout=15, **request)


def test_an_exchanged_dpop_bound_token_charges_for_the_user(running_stack: Any) -> None:
    stack = running_stack
    mario = stack.user_token("mario", "MARIO_PASSWORD")
    key = DPoPKey.generate()
    exchanger = _exchanger(stack, key)
    source = exchanger.source(mario, audience="payment-service")
    token = source.token()
    claims = _claims(token)
    assert source.cached() is not None and source.cached().token_type == "DPoP"
    assert (claims["sub"], claims["azp"]) == (_claims(mario)["sub"], "shop-api")
    assert claims["aud"] in ("payment-service", ["payment-service"])
    assert claims["cnf"]["jkt"] == key.jkt
    assert "payments:charge" in claims["resource_access"]["payment-service"]["roles"]
    with httpx.Client(auth=BearerAuth(source), timeout=15) as http:
        url = stack.backends["payment-service"].url + "/api/payments"
        answer = http.post(url, json={"orderId": "ord_test", "amount_cents": 1999},
                           headers={"Idempotency-Key": f"k-{uuid.uuid4()}"})
    assert answer.status_code == 201, answer.text
    assert answer.request.headers["Authorization"].startswith("DPoP ")
    body = answer.json()
    assert (body["status"], body["user"], body["actor"]) == (
        "captured", claims["sub"], "shop-api")


def test_the_payment_edge_refuses_what_is_not_exchanged_and_bound(running_stack: Any) -> None:
    stack = running_stack
    mario = stack.user_token("mario", "MARIO_PASSWORD")
    key, other = DPoPKey.generate(), DPoPKey.generate()
    bound = _exchanger(stack, key).exchange(mario, audience="payment-service")
    unbound = _exchanger(stack, None).exchange(mario, audience="payment-service")
    url = stack.backends["payment-service"].url + "/api/payments"
    rows = [
        ("bound token sent as Bearer", {"Authorization": f"Bearer {bound}"},
         401, "dpop_required"),
        ("unbound exchanged token", {"Authorization": f"Bearer {unbound}"},
         401, "dpop_required"),
        ("proof by another key", {"Authorization": f"DPoP {bound}",
                                  "DPoP": other.proof("POST", url, ath=_ath(bound))},
         401, "dpop_jkt_mismatch"),
        ("proof for another URL", {"Authorization": f"DPoP {bound}",
                                   "DPoP": key.proof("POST", url + "x", ath=_ath(bound))},
         401, "dpop_htu_mismatch"),
        ("unbound token with a proof", {"Authorization": f"DPoP {unbound}",
                                        "DPoP": key.proof("POST", url, ath=_ath(unbound))},
         401, "dpop_binding_missing"),
        ("storefront token with a proof", {"Authorization": f"DPoP {mario}",
                                           "DPoP": key.proof("POST", url, ath=_ath(mario))},
         401, "dpop_binding_missing"),
    ]
    for name, headers, status, code in rows:
        answer = _charge(stack, headers={**headers, "Idempotency-Key": "k"})
        assert (answer.status_code, answer.json().get("code")) == (status, code), name


def test_a_user_without_the_payment_role_cannot_be_exchanged_for_payment(
        running_stack: Any) -> None:
    # blocked holds no payment-service role: its token does not name payment-service, and
    # an exchange never widens the audience.
    token = running_stack.user_token("blocked", "BLOCKED_PASSWORD")
    with pytest.raises(TokenEndpointError) as refused:
        _exchanger(running_stack, DPoPKey.generate()).exchange(token, audience="payment-service")
    assert (refused.value.status, refused.value.error) == (400, "invalid_request")
    assert (refused.value.error_description or "").startswith("Requested audience not available")
