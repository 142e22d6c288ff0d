"""Helpers for the tests against a real Keycloak: the repo's files, token requests by each
client-authentication method, and decoding for assertions (never printing a token)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from svcauth._jwk import load_private_key
from svcauth._jws import sign_compact

ROOT = Path(__file__).resolve().parents[1]
REALM_FILE = ROOT / "deploy/keycloak/techstore-realm.json"
ENV_FILE = ROOT / "deploy/dev.env"
INVENTORY_KEY = ROOT / "deploy/dev/inventory-sync.key.pem"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

SECRET_VARS = {
    "shop-api": "SHOP_API_CLIENT_SECRET",
    "notification-service": "NOTIFICATION_SERVICE_CLIENT_SECRET",
    "cart-reminder-job": "CART_REMINDER_JOB_CLIENT_SECRET",
    "payment-provider": "PAYMENT_PROVIDER_CLIENT_SECRET",
    "reporting-job": "REPORTING_JOB_CLIENT_SECRET",
    "payment-gateway-dpop": "PAYMENT_GATEWAY_DPOP_CLIENT_SECRET",
    "order-events-worker": "ORDER_EVENTS_WORKER_CLIENT_SECRET",
}


def segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def header_of(token: str) -> dict[str, Any]:
    return segment(token, 0)


def claims_of(token: str) -> dict[str, Any]:
    return segment(token, 1)


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud", [])
    return [aud] if isinstance(aud, str) else list(aud)


def inventory_assertion(aud: Any, *, lifetime: int = 30, key: Any = None, drop: tuple[str, ...] = (),
                        **override: Any) -> str:
    """A private_key_jwt client assertion of inventory-sync (RFC 7523), signed with its dev key
    unless ``key`` is given; ``override`` replaces claims, ``drop`` removes them."""
    if key is None:
        key, _ = load_private_key(INVENTORY_KEY)
    now = int(time.time())
    claims = {"iss": "inventory-sync", "sub": "inventory-sync", "aud": aud,
              "jti": str(uuid.uuid4()), "iat": now, "exp": now + lifetime, **override}
    for name in drop:
        claims.pop(name)
    return sign_compact(claims, key, "RS256", {"typ": "JWT"})


def jwt_form(assertion: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": "inventory-sync",
            "client_assertion_type": JWT_BEARER, "client_assertion": assertion, **extra}


def post_form(url: str, data: dict[str, str], auth: tuple[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, data=data, auth=auth, timeout=30.0)


def client_token(token_endpoint: str, issuer: str, env: dict[str, str], client_id: str) -> str:
    """An access token for a service client: client_secret_basic, or private_key_jwt for
    inventory-sync."""
    if client_id == "inventory-sync":
        response = post_form(token_endpoint, jwt_form(inventory_assertion(issuer)))
    else:
        response = post_form(token_endpoint, {"grant_type": "client_credentials"},
                             auth=(client_id, env[SECRET_VARS[client_id]]))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
