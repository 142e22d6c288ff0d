"""Attacks decided after verification: the wrong kind of token, the wrong caller, missing
roles or scopes, and the Authorization header itself. Each row goes through a ``Guard``
(header → verifier → ``ServicePolicy``) with real keys and an injected clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from attack_kit import (
    AUDIENCE,
    DROP,
    ISSUER,
    REQUIRED_ROLE,
    clock,
    keys,
    mint,
    service_claims,
    user_claims,
)

from svcauth import AuthError, ForbiddenError, InvalidRequestError, MissingTokenError
from svcauth.receiver import ServiceIdentity, ServicePolicy, StaticKeySet, Verifier
from svcauth.receiver._guard import Guard

ALLOWED = ("shop-api", "cart-reminder-job", "inventory-sync")


def guard(**policy: Any) -> Guard[ServiceIdentity]:
    options: dict[str, Any] = {"allowed_clients": ALLOWED, "required_roles": (REQUIRED_ROLE,)}
    options.update(policy)
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, clock=clock, cache=None,
                        key_set=StaticKeySet(keys().jwks(), issuer=ISSUER))
    return Guard(verifier, ServicePolicy(**options))


def bearer(claims: dict[str, Any]) -> str:
    return f"Bearer {mint(claims)}"


Row = tuple[str, Callable[[], Any], dict[str, Any], type[AuthError], str, tuple[str, ...]]

ROWS: list[Row] = [
    # user tokens where a service token is required
    ("user_token_storefront", lambda: bearer(user_claims()), {}, ForbiddenError, "not_service_account", ()),
    ("user_token_with_sub_as_client", lambda: bearer(user_claims(sub="shop-api")), {}, ForbiddenError, "not_service_account", ()),
    ("client_id_differs_from_azp", lambda: bearer(service_claims(client_id="reporting-job")), {}, ForbiddenError, "not_service_account", ()),
    ("client_id_empty", lambda: bearer(service_claims(client_id="", azp="")), {}, ForbiddenError, "not_service_account", ()),
    ("client_id_list", lambda: bearer(service_claims(client_id=["shop-api"])), {}, ForbiddenError, "not_service_account", ()),
    ("azp_missing", lambda: bearer(service_claims(azp=DROP)), {}, ForbiddenError, "not_service_account", ()),
    ("pre_21_keycloak_clientId_claim_only", lambda: bearer(service_claims(client_id=DROP, clientId="shop-api")), {}, ForbiddenError, "not_service_account", ()),
    # a valid service that is not allowed (the seed's allow-list)
    ("reporting_job_not_allowed", lambda: bearer(service_claims("reporting-job")), {}, ForbiddenError, "unauthorized_service", ()),
    ("reporting_job_even_with_the_role", lambda: bearer(service_claims("reporting-job")), {"required_roles": ()}, ForbiddenError, "unauthorized_service", ()),
    ("allowed_client_case_changed", lambda: bearer(service_claims("Shop-API")), {}, ForbiddenError, "unauthorized_service", ()),
    ("allowed_client_prefix", lambda: bearer(service_claims("shop-api-evil")), {}, ForbiddenError, "unauthorized_service", ()),
    ("allowed_client_substring", lambda: bearer(service_claims("shop")), {}, ForbiddenError, "unauthorized_service", ()),
    # missing role or scope
    ("role_missing", lambda: bearer(service_claims(resource_access={})), {}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE,)),
    ("role_of_another_client", lambda: bearer(service_claims(resource_access={"shop-api": {"roles": ["notifications:send"]}})), {}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE,)),
    ("realm_role_with_same_name", lambda: bearer(service_claims(resource_access={}, realm_access={"roles": ["notifications:send", REQUIRED_ROLE]})), {}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE,)),
    ("role_read_not_send", lambda: bearer(service_claims(resource_access={"notification-service": {"roles": ["notifications:read"]}})), {}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE,)),
    ("roles_as_string", lambda: bearer(service_claims(resource_access={"notification-service": {"roles": "notifications:send"}})), {}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE,)),
    ("role_in_scope_string", lambda: bearer(service_claims(resource_access={}, scope=REQUIRED_ROLE)), {}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE,)),
    ("scope_missing", lambda: bearer(service_claims()), {"required_scopes": ("notifications.send",)}, ForbiddenError, "insufficient_scope", ("notifications.send",)),
    ("scope_prefix", lambda: bearer(service_claims(scope="email notifications.sendx")), {"required_scopes": ("notifications.send",)}, ForbiddenError, "insufficient_scope", ("notifications.send",)),
    ("scope_substring", lambda: bearer(service_claims(scope="notifications")), {"required_scopes": ("notifications.send",)}, ForbiddenError, "insufficient_scope", ("notifications.send",)),
    ("scope_as_list_in_scope_claim", lambda: bearer(service_claims(scope=["notifications.send"])), {"required_scopes": ("notifications.send",)}, ForbiddenError, "insufficient_scope", ("notifications.send",)),
    # Role names are "<client>:<role>" strings; a client whose id holds a colon, or a client
    # named "realm", must not be able to spell someone else's role.
    ("client_role_spelling_the_required_role", lambda: bearer(service_claims(resource_access={"notification-service:notifications": {"roles": ["send"]}})), {}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE,)),
    ("client_named_realm_spelling_a_realm_role", lambda: bearer(service_claims(resource_access={"realm": {"roles": ["admin"]}})), {"required_roles": ("realm:admin",)}, ForbiddenError, "insufficient_scope", ("realm:admin",)),
    ("role_and_scope_both_missing", lambda: bearer(service_claims(resource_access={})), {"required_scopes": ("notifications.send",)}, ForbiddenError, "insufficient_scope", (REQUIRED_ROLE, "notifications.send")),
    # the Authorization header
    ("no_header", lambda: None, {}, MissingTokenError, "token_missing", ()),
    ("basic_scheme", lambda: "Basic c2hvcC1hcGk6c2VjcmV0", {}, MissingTokenError, "scheme_unsupported", ()),
    ("bare_token_without_scheme", lambda: mint(), {}, MissingTokenError, "scheme_unsupported", ()),
    ("repeated_headers_both_valid", lambda: [bearer(service_claims()), bearer(service_claims())], {}, InvalidRequestError, "authorization_repeated", ()),
    ("repeated_headers_one_valid", lambda: [bearer(service_claims()), "Bearer x.y.z"], {}, InvalidRequestError, "authorization_repeated", ()),
    ("comma_joined_headers", lambda: f"{bearer(service_claims())}, {bearer(service_claims())}", {}, InvalidRequestError, "authorization_malformed", ()),
    ("tab_after_scheme", lambda: "Bearer\t" + mint(), {}, InvalidRequestError, "authorization_malformed", ()),
]


@pytest.mark.parametrize(("name", "header", "policy", "error", "code", "required"), ROWS,
                         ids=[r[0] for r in ROWS])
def test_refused_after_or_before_verification_with_exact_code(
    name: str, header: Callable[[], Any], policy: dict[str, Any], error: type[AuthError],
    code: str, required: tuple[str, ...],
) -> None:
    with pytest.raises(error) as info:
        guard(**policy).authenticate(header())
    assert type(info.value) is error
    assert info.value.code == code, info.value.message
    if isinstance(info.value, ForbiddenError):
        assert info.value.required == required


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_valid_service_token_is_accepted_with_any_scheme_case(scheme: str) -> None:
    identity = guard().authenticate(f"{scheme} {mint()}")
    assert identity.client_id == "shop-api"
    assert REQUIRED_ROLE in identity.roles


def test_allowed_caller_with_scope_is_accepted() -> None:
    identity = guard(required_scopes=("notifications.send",)).authenticate(
        bearer(service_claims("inventory-sync", scope="email notifications.send")))
    assert identity.client_id == "inventory-sync"
    assert identity.scopes == frozenset({"email", "notifications.send"})


def test_user_token_never_reaches_the_allow_list() -> None:
    """A user logged in to an allowed client is still refused as not a service account."""
    with pytest.raises(ForbiddenError) as info:
        guard().authenticate(bearer(user_claims(azp="shop-api")))
    assert info.value.code == "not_service_account"
