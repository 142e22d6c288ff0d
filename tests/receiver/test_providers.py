"""Provider profiles (svcauth.providers): each profile's rules, row by row, on real signed
tokens through ``Verifier`` and the policies, with the exact refusal codes."""

from __future__ import annotations

from typing import Any

import pytest
from receiver_support import AUDIENCE, ISSUER, NOW, Clock, Realm, service_claims

from svcauth import ConfigurationError, ForbiddenError, InvalidTokenError
from svcauth.providers import (
    KEYCLOAK,
    PROFILES,
    RFC9068,
    keycloak_roles,
    oidc_discovery_url,
    profile_named,
    rfc9068_roles,
)
from svcauth.receiver import (
    OnBehalfOfPolicy,
    ServicePolicy,
    StaticKeySet,
    UserPolicy,
    Verifier,
    VerifierConfig,
)


def rfc9068_claims(client: str = "reporting-job", **overrides: Any) -> dict[str, Any]:
    """As panva's oidc-provider issues them: sub = client_id, no azp, no typ claim."""
    claims: dict[str, Any] = {"iss": ISSUER, "sub": client, "client_id": client,
                              "aud": AUDIENCE, "exp": int(NOW) + 300, "iat": int(NOW),
                              "jti": "j-1", "scope": "notifications:send"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def realm() -> Realm:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    return realm


def _verifier(realm: Realm, **options: Any) -> Verifier:
    return Verifier(issuer=ISSUER, audience=AUDIENCE,
                    key_set=StaticKeySet(realm.jwks(), issuer=ISSUER), clock=Clock(),
                    cache=None, **options)


def _code(call: Any) -> str:
    with pytest.raises((InvalidTokenError, ForbiddenError)) as caught:
        call()
    return caught.value.code


AT_JWT = {"typ": "at+jwt"}

# (name, claims, header, profile, expected code or None for accepted)
TYP_ROWS = [
    ("rfc9068_token_generic", rfc9068_claims(), AT_JWT, RFC9068, None),
    ("rfc9068_token_application_typ", rfc9068_claims(), {"typ": "application/at+jwt"},
     RFC9068, None),
    ("rfc9068_token_upper_case_typ", rfc9068_claims(), {"typ": "AT+JWT"}, RFC9068, None),
    ("rfc9068_token_keycloak_profile", rfc9068_claims(), AT_JWT, KEYCLOAK,
     "token_type_invalid"),
    ("jwt_typ_generic", rfc9068_claims(), {"typ": "JWT"}, RFC9068, "header_invalid"),
    ("no_typ_generic", rfc9068_claims(), {"typ": None}, RFC9068, "header_invalid"),
    ("keycloak_token_keycloak", service_claims(), {}, KEYCLOAK, None),
    ("keycloak_token_at_jwt_header", service_claims(), AT_JWT, KEYCLOAK, None),
    ("keycloak_id_token", service_claims(typ="ID"), {}, KEYCLOAK, "token_type_invalid"),
    ("keycloak_refresh_token", service_claims(typ="Refresh"), {}, KEYCLOAK,
     "token_type_invalid"),
    ("keycloak_token_generic_profile", service_claims(), {}, RFC9068, "header_invalid"),
]


@pytest.mark.parametrize(("name", "claims", "header", "profile", "code"), TYP_ROWS,
                         ids=[r[0] for r in TYP_ROWS])
def test_token_typ_rules_per_profile(realm: Realm, name: str, claims: dict[str, Any],
                                     header: dict[str, Any], profile: Any,
                                     code: str | None) -> None:
    token = realm.token(claims, header=header)
    if header.get("typ", "") is None:  # no typ member at all
        token = _without_header_typ(realm, claims)
    verifier = _verifier(realm, profile=profile)
    if code is None:
        assert verifier.verify(token)["iss"] == ISSUER
    else:
        assert _code(lambda: verifier.verify(token)) == code


def _without_header_typ(realm: Realm, claims: dict[str, Any]) -> str:
    from svcauth._jws import sign_compact
    key, alg = realm.keys["k1"]
    return sign_compact(claims, key, alg, {"kid": "k1"})


def test_an_explicit_token_types_overrides_the_profile(realm: Realm) -> None:
    token = realm.token(rfc9068_claims(), header=AT_JWT)
    assert _verifier(realm, token_types=None).verify(token)["sub"] == "reporting-job"
    bearer_only = _verifier(realm, profile=RFC9068, token_types=("Bearer",))
    assert _code(lambda: bearer_only.verify(token)) == "token_type_invalid"


def test_the_verifier_config_carries_the_profile(realm: Realm) -> None:
    token = realm.token(rfc9068_claims(), header=AT_JWT)
    keys = StaticKeySet(realm.jwks(), issuer=ISSUER)
    built = VerifierConfig(ISSUER, AUDIENCE, profile=RFC9068).build(keys, clock=Clock())
    assert (built.profile, built.token_types) == (RFC9068, None)
    assert built.verify(token)["client_id"] == "reporting-job"


# (name, claims, policy, expected code or client id)
POLICY_ROWS = [
    ("rfc9068_service_generic", rfc9068_claims(), ServicePolicy(profile=RFC9068),
     "reporting-job"),
    ("rfc9068_service_by_name", rfc9068_claims(), ServicePolicy(profile="rfc9068"),
     "reporting-job"),
    ("rfc9068_service_keycloak_rule", rfc9068_claims(), ServicePolicy(), "not_service_account"),
    ("rfc9068_user_token", rfc9068_claims(sub="alice"), ServicePolicy(profile=RFC9068),
     "not_service_account"),
    ("rfc9068_allowed", rfc9068_claims(),
     ServicePolicy(profile=RFC9068, allowed_clients={"reporting-job"}), "reporting-job"),
    ("rfc9068_not_allowed", rfc9068_claims(),
     ServicePolicy(profile=RFC9068, allowed_clients={"shop-api"}), "unauthorized_service"),
    ("rfc9068_azp_is_not_the_client", rfc9068_claims(azp="shop-api"),
     ServicePolicy(profile=RFC9068, allowed_clients={"shop-api"}), "unauthorized_service"),
    ("rfc9068_role_held", rfc9068_claims(roles=["admin", "ops"]),
     ServicePolicy(profile=RFC9068, required_roles={"roles:admin"}), "reporting-job"),
    ("rfc9068_group_held", rfc9068_claims(groups="billing ops"),
     ServicePolicy(profile=RFC9068, required_roles={"groups:ops"}), "reporting-job"),
    ("rfc9068_role_missing", rfc9068_claims(roles=["ops"]),
     ServicePolicy(profile=RFC9068, required_roles={"roles:admin"}), "insufficient_scope"),
    ("rfc9068_keycloak_layout_ignored",
     rfc9068_claims(resource_access={"notification-service": {"roles": ["send"]}}),
     ServicePolicy(profile=RFC9068, required_roles={"notification-service:send"}),
     "insufficient_scope"),
    ("keycloak_service_default", service_claims(), ServicePolicy(), "inventory-sync"),
    ("keycloak_rule_override", rfc9068_claims(),
     ServicePolicy(service_account_rule="rfc9068"), "reporting-job"),
    ("keycloak_user_policy", service_claims(), UserPolicy(allowed_clients=None),
     "not_user_token"),
    ("rfc9068_user_policy", rfc9068_claims(sub="alice"),
     UserPolicy(allowed_clients={"reporting-job"}, profile=RFC9068), "reporting-job"),
    ("rfc9068_user_policy_other_client", rfc9068_claims(sub="alice"),
     UserPolicy(allowed_clients={"web-shop"}, profile=RFC9068), "unauthorized_client"),
    ("rfc9068_user_policy_service_token", rfc9068_claims(),
     UserPolicy(allowed_clients=None, profile=RFC9068), "not_user_token"),
    ("rfc9068_on_behalf_of_service_token", rfc9068_claims(),
     OnBehalfOfPolicy(allowed_clients={"reporting-job"}, profile=RFC9068), "not_user_token"),
]


@pytest.mark.parametrize(("name", "claims", "policy", "expected"), POLICY_ROWS,
                         ids=[r[0] for r in POLICY_ROWS])
def test_policies_read_the_profile(name: str, claims: dict[str, Any], policy: Any,
                                   expected: str) -> None:
    if expected.endswith(("_account", "_service", "_scope", "_token", "_client")):
        assert _code(lambda: policy.authorize(claims)) == expected
    else:
        assert policy.authorize(claims).client_id == expected


def test_user_policy_names_no_client_by_default() -> None:
    with pytest.raises(TypeError):
        UserPolicy()  # type: ignore[call-arg]


@pytest.mark.parametrize(("claims", "expected"), [
    ({"roles": ["a", "b"]}, {"roles:a", "roles:b"}),
    ({"roles": "a b", "groups": ["g"], "entitlements": ["e"]},
     {"roles:a", "roles:b", "groups:g", "entitlements:e"}),
    ({"roles": [1, None, ""], "groups": {"g": 1}}, set()),
    ({"realm_access": {"roles": ["x"]}}, set()),
])
def test_rfc9068_roles(claims: dict[str, Any], expected: set[str]) -> None:
    assert rfc9068_roles(claims) == frozenset(expected)


def test_keycloak_roles_are_the_claims_roles() -> None:
    assert keycloak_roles(service_claims()) == frozenset({
        "realm:offline_access", "realm:default-roles-techstore",
        "notification-service:notifications:send", "account:view-profile"})


def test_profiles_by_name_and_discovery_urls() -> None:
    assert PROFILES == {"keycloak": KEYCLOAK, "rfc9068": RFC9068}
    assert profile_named("rfc9068") is RFC9068 and profile_named(KEYCLOAK) is KEYCLOAK
    with pytest.raises(ConfigurationError, match="expected one of \\['keycloak', 'rfc9068'\\]"):
        profile_named("auth0")
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=StaticKeySet({"keys": []}, issuer=ISSUER),
                 profile="okta")
    assert KEYCLOAK.discovery_url(ISSUER + "/") == (
        ISSUER + "/.well-known/openid-configuration")
    assert oidc_discovery_url("https://op.example") == (
        "https://op.example/.well-known/openid-configuration")
    assert (KEYCLOAK.client_id({"azp": "a", "client_id": "b"}),
            RFC9068.client_id({"azp": "a", "client_id": "b"}),
            RFC9068.client_id({"client_id": 7})) == ("a", "b", None)
