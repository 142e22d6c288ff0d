"""DevIdP's minting API: mint_token for a user, token_claims unsigned, sign_claims exact."""

from __future__ import annotations

import pytest
from devidp_support import claims_of, header_of, verify_with_pyjwt

from svcauth import ConfigurationError
from svcauth.devidp import DevIdP


def test_mint_token_for_a_user_is_the_password_grants_access_token(idp: DevIdP) -> None:
    token = idp.mint_token("storefront", user="alice", lifetime=120)
    claims = verify_with_pyjwt(token, idp.jwks(), issuer=idp.issuer)
    assert claims["azp"] == "storefront"
    assert claims["preferred_username"] == "alice"
    assert claims["sub"] == idp.realm.users["alice"].id
    assert claims["jti"].startswith("onrtro:")
    assert isinstance(claims["sid"], str)
    assert claims["exp"] - claims["iat"] == 120
    assert "client_id" not in claims


def test_token_claims_are_what_mint_token_signs(idp: DevIdP) -> None:
    unsigned = idp.token_claims("shop-api", now=1_800_000_000)
    minted = claims_of(idp.mint_token("shop-api", now=1_800_000_000))
    assert {k: v for k, v in unsigned.items() if k != "jti"} == \
        {k: v for k, v in minted.items() if k != "jti"}
    assert unsigned["jti"] != minted["jti"]


def test_sign_claims_signs_exactly_the_claims(idp: DevIdP) -> None:
    token = idp.sign_claims({"iss": idp.issuer, "exp": 4_102_444_800, "only": "this"})
    assert claims_of(token) == {"iss": idp.issuer, "exp": 4_102_444_800, "only": "this"}
    assert header_of(token) == {"alg": "RS256", "typ": "JWT", "kid": idp.active_kid}


@pytest.mark.parametrize(("call", "message"), [
    (lambda i: i.mint_token("no-such-client"), "mint_token: expected a client of realm "
                                               "'techstore'"),
    (lambda i: i.mint_token("storefront"), "mint_token: expected a client with a service "
                                           "account, found 'storefront'"),
    (lambda i: i.mint_token("storefront", user="mallory"), "mint_token: expected a user of "
                                                           "realm 'techstore', found 'mallory'"),
    (lambda i: i.sign_claims({}, kid="gone"), "sign_claims: expected a published signing kid, "
                                              "found 'gone'"),
], ids=["unknown client", "no service account", "unknown user", "unknown kid"])
def test_what_the_realm_lacks_is_a_configuration_error(idp: DevIdP, call: object,
                                                       message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        call(idp)  # type: ignore[operator]
    assert str(info.value).startswith(message)
