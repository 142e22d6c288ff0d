"""OnBehalfOfPolicy: exchanged tokens (the user is sub, the acting service azp), one row per
case with its exact code."""

from __future__ import annotations

from typing import Any

import pytest

from svcauth import ConfigurationError, ForbiddenError
from svcauth.receiver import OnBehalfOfIdentity, OnBehalfOfPolicy

ALICE = "0b7f5c7e-1111-4d4e-9a55-2a9e8c1f0c11"


def exchanged(**override: Any) -> dict[str, Any]:
    """Claims laid out as Keycloak's standard token exchange writes them for shop-api."""
    claims: dict[str, Any] = {
        "sub": ALICE, "azp": "shop-api", "aud": "payment-service", "typ": "Bearer",
        "preferred_username": "alice", "email": "alice@example.com",
        "resource_access": {"payment-service": {"roles": ["payments:charge"]}},
        "scope": "email profile"}
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


POLICY = OnBehalfOfPolicy(allowed_clients={"shop-api"},
                          required_roles={"payment-service:payments:charge"})

# (name, claims, code or None for admitted)
ROWS = [
    ("exchanged token of shop-api for alice", exchanged(), None),
    ("service-account token (client_id == azp)", exchanged(client_id="shop-api"), "not_user_token"),
    ("no sub", exchanged(sub=None), "not_user_token"),
    ("sub not a string", exchanged(sub=42), "not_user_token"),
    ("alice's own storefront token", exchanged(azp="storefront"), "unauthorized_service"),
    ("another service exchanged it", exchanged(azp="cart-reminder-job"), "unauthorized_service"),
    ("no azp", exchanged(azp=None), "unauthorized_service"),
    ("role narrowed away", exchanged(resource_access={"notification-service": {
        "roles": ["notifications:read"]}}), "insufficient_scope"),
    ("no roles at all", exchanged(resource_access=None), "insufficient_scope"),
]


@pytest.mark.parametrize(("name", "claims", "code"), ROWS, ids=[r[0] for r in ROWS])
def test_on_behalf_of_rows(name: str, claims: dict[str, Any], code: str | None) -> None:
    if code is None:
        who = POLICY.authorize(claims)
        assert who == OnBehalfOfIdentity(
            user=ALICE, username="alice", email="alice@example.com", client_id="shop-api",
            roles=frozenset({"payment-service:payments:charge"}),
            scopes=frozenset({"email", "profile"}), claims=claims)
        return
    with pytest.raises(ForbiddenError) as info:
        POLICY.authorize(claims)
    assert info.value.code == code
    assert info.value.status == 403
    if code == "insufficient_scope":
        assert info.value.required == ("payment-service:payments:charge",)


def test_required_scopes_are_checked_too() -> None:
    policy = OnBehalfOfPolicy(allowed_clients=["shop-api"], required_scopes={"phone"})
    with pytest.raises(ForbiddenError) as info:
        policy.authorize(exchanged())
    assert (info.value.code, info.value.required) == ("insufficient_scope", ("phone",))
    assert policy.authorize(exchanged(scope="email profile phone")).user == ALICE


@pytest.mark.parametrize("allowed", [(), [""], ""])
def test_allowed_clients_are_required(allowed: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        OnBehalfOfPolicy(allowed_clients=allowed)
    assert "allowed_clients" in info.value.message


def test_role_names_must_name_their_client() -> None:
    with pytest.raises(ConfigurationError, match="required_roles"):
        OnBehalfOfPolicy(allowed_clients={"shop-api"}, required_roles={"charge"})
