"""TokenFactory: minted tokens carry exactly the provider's claims with the requested
changes, and each kind of bad token meets the verifier's exact code."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from testing_support import NOW, claims_of, header_of

from svcauth import ConfigurationError, InvalidTokenError
from svcauth.receiver import StaticKeySet
from svcauth.testing import MISSING, TokenFactory, apply_claims
from svcauth.testing._mint import EXPIRED_FOR, UNKNOWN_KID


def _without_jti(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != "jti"}


def test_plain_mint_is_what_the_token_endpoint_would_issue(factory: TokenFactory) -> None:
    token = factory.mint("invoicing-job")
    assert _without_jti(claims_of(token)) == _without_jti(factory.idp.token_claims("invoicing-job"))
    claims = claims_of(token)
    assert claims["iss"] == "https://idp.svcauth.test/realms/billing"
    assert claims["azp"] == claims["client_id"] == "invoicing-job"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["iat"] == int(NOW)
    assert claims["resource_access"]["billing-api"] == {"roles": ["invoices:read", "invoices:write"]}
    assert header_of(token) == {"alg": "RS256", "typ": "JWT", "kid": factory.idp.active_kid}


def test_changed_added_and_missing_claims_are_exactly_applied(factory: TokenFactory) -> None:
    base = _without_jti(claims_of(factory.mint("reporting-service")))
    changes = {"aud": "other-api", "tenant": "acme", "azp": MISSING, "scope": MISSING}
    minted = _without_jti(claims_of(factory.mint("reporting-service", claims=changes)))
    expected = {k: v for k, v in base.items() if k not in ("azp", "scope")}
    expected.update(aud="other-api", tenant="acme")
    assert minted == expected


def test_missing_for_a_claim_that_is_absent_is_no_error(factory: TokenFactory) -> None:
    claims = claims_of(factory.mint("reporting-service", claims={"sid": MISSING}))
    assert "sid" not in claims


def test_expired_token_expired_an_hour_ago(factory: TokenFactory) -> None:
    claims = claims_of(factory.mint("invoicing-job", expired=True))
    assert claims["exp"] == int(NOW) - EXPIRED_FOR
    assert claims["exp"] - claims["iat"] == 300


def test_lifetime_and_now_set_the_times(factory: TokenFactory) -> None:
    claims = claims_of(factory.mint("invoicing-job", lifetime=60, now=1_700_000_000))
    assert (claims["iat"], claims["exp"]) == (1_700_000_000, 1_700_000_060)


def test_user_token_is_the_users_at_the_client(factory: TokenFactory) -> None:
    claims = claims_of(factory.mint("billing-portal", user="dana"))
    assert claims["azp"] == "billing-portal"
    assert claims["preferred_username"] == "dana"
    assert claims["email"] == "dana@example.com"
    assert "client_id" not in claims
    assert claims["sub"] == factory.realm.users["dana"].id
    assert claims["resource_access"]["billing-api"] == {"roles": ["invoices:read"]}


@pytest.mark.parametrize(("call", "message"), [
    (lambda f: f.mint("no-such-client"), "expected a client of realm 'billing'"),
    (lambda f: f.mint("billing-portal"), "expected a client with a service account, found "
                                         "'billing-portal'"),
    (lambda f: f.mint("billing-portal", user="nobody"), "expected a user of realm 'billing', "
                                                        "found 'nobody'"),
    (lambda f: f.mint("billing-portal", user="service-account-invoicing-job"),
     "expected a user of realm 'billing', found 'service-account-invoicing-job'"),
    (lambda f: f.mint("invoicing-job", key="stolen"), "expected 'realm', 'unknown' or 'forged'"),
], ids=["unknown client", "no service account", "unknown user", "service-account user",
        "unknown key kind"])
def test_what_the_realm_does_not_have_is_a_configuration_error(
        factory: TokenFactory, call: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^mint_token: |^sign key: ") as info:
        call(factory)
    assert message in str(info.value)


# (name, mint options, verifier options, expected code or None for accepted)
VERIFY_ROWS: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = [
    ("plain", {}, {}, None),
    ("expired", {"expired": True}, {}, "token_expired"),
    ("unknown key", {"key": "unknown"}, {}, "key_not_found"),
    ("forged with the realm's kid", {"key": "forged"}, {}, "signature_invalid"),
    ("another issuer", {"claims": {"iss": "https://evil.example/realms/billing"}}, {},
     "issuer_mismatch"),
    ("another audience", {"claims": {"aud": "newsletter-service"}}, {}, "audience_mismatch"),
    ("no exp", {"claims": {"exp": MISSING}}, {}, "claim_invalid"),
    ("ID token", {"claims": {"typ": "ID"}}, {}, "token_type_invalid"),
    ("not yet valid", {"claims": {"nbf": int(NOW) + 3600}}, {}, "token_not_yet_valid"),
    ("other receiver", {}, {"audience": "newsletter-service"}, "audience_mismatch"),
]


@pytest.mark.parametrize(("mint", "verify", "code"), [r[1:] for r in VERIFY_ROWS],
                         ids=[r[0] for r in VERIFY_ROWS])
def test_verifier_meets_each_token_with_its_code(factory: TokenFactory, mint: dict[str, Any],
                                                 verify: dict[str, Any], code: str | None) -> None:
    verifier = factory.verifier(verify.pop("audience", None), clock=lambda: NOW, **verify)
    token = factory.mint("invoicing-job", **mint)
    if code is None:
        assert verifier.verify(token).azp == "invoicing-job"
    else:
        with pytest.raises(InvalidTokenError) as info:
            verifier.verify(token)
        assert info.value.code == code


def test_unknown_key_token_names_a_kid_the_jwks_lacks(factory: TokenFactory) -> None:
    assert header_of(factory.mint("invoicing-job", key="unknown"))["kid"] == UNKNOWN_KID
    assert UNKNOWN_KID not in {k["kid"] for k in factory.jwks()["keys"]}


def test_static_key_set_holds_the_signing_keys_only_and_follows_rotation() -> None:
    factory = TokenFactory(None, clock=lambda: NOW)
    before = factory.static_key_set
    assert isinstance(before, StaticKeySet)
    assert before is factory.static_key_set  # rebuilt only when the keys change
    assert before.kids == {factory.idp.active_kid}
    new_kid = factory.idp.rotate_keys()
    after = factory.static_key_set
    assert after is not before
    assert len(after.kids) == 2
    assert new_kid in after.kids


def test_without_a_realm_sign_works_and_mint_has_no_client() -> None:
    factory = TokenFactory(clock=lambda: NOW)
    assert factory.issuer == "https://idp.svcauth.test/realms/test"
    claims = {"iss": factory.issuer, "aud": "api", "exp": int(NOW) + 60, "azp": "x"}
    assert dict(factory.verifier("api", clock=lambda: NOW, token_types=None).verify(
        factory.sign(claims))) == claims
    with pytest.raises(ConfigurationError, match="expected a client of realm 'test'"):
        factory.mint("x")


def test_issuer_base_sets_the_issuer() -> None:
    factory = TokenFactory(issuer_base="http://keycloak.internal:8080")
    assert factory.issuer == "http://keycloak.internal:8080/realms/test"


def test_verifier_without_any_audience_says_how_to_give_one() -> None:
    with pytest.raises(ConfigurationError, match="set the svcauth_audience ini option"):
        TokenFactory().verifier()


def test_headers_carry_a_bearer_token(factory: TokenFactory) -> None:
    headers = factory.headers("invoicing-job", claims={"tenant": "acme"})
    assert list(headers) == ["Authorization"]
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Bearer"
    assert claims_of(token)["tenant"] == "acme"


def test_apply_claims_and_the_missing_sentinel() -> None:
    assert apply_claims({"a": 1, "b": 2}, {"b": MISSING, "c": None}) == {"a": 1, "c": None}
    assert apply_claims({"a": 1}, None) == {"a": 1}
    assert repr(MISSING) == "MISSING"
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING
    assert type(MISSING)() is MISSING
