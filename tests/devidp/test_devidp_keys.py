"""The JWKS (an RS256 ``sig`` key and an RSA-OAEP ``enc`` key, like Keycloak) and key
rotation: the new key signs, the old one stays published and verifying until retired."""

from __future__ import annotations

import httpx
import jwt
import pytest
from devidp_support import header_of, post, secret_form, verify_with_pyjwt

from svcauth.devidp import DevIdP


def test_jwks_has_one_sig_and_one_enc_key_like_keycloak(idp: DevIdP) -> None:
    keys = httpx.get(idp.jwks_uri, timeout=10).json()["keys"]
    assert [(k["kty"], k["use"], k["alg"]) for k in keys] == [
        ("RSA", "sig", "RS256"), ("RSA", "enc", "RSA-OAEP")]
    for key in keys:
        assert {"kid", "n", "e", "x5c", "x5t", "x5t#S256"} <= set(key)
        assert "d" not in key and "p" not in key
    assert keys[0]["kid"] == idp.active_kid


def test_rotation_publishes_both_and_signs_with_the_new_kid(
        fresh_idp: DevIdP, dev_env: dict[str, str]) -> None:
    old_kid = fresh_idp.active_kid
    old_token = post(fresh_idp.token_endpoint, secret_form(dev_env, "shop-api")).json()[
        "access_token"]
    new_kid = fresh_idp.rotate_keys()
    new_token = post(fresh_idp.token_endpoint, secret_form(dev_env, "shop-api")).json()[
        "access_token"]
    jwks = httpx.get(fresh_idp.jwks_uri, timeout=10).json()
    assert new_kid != old_kid
    assert header_of(new_token)["kid"] == new_kid
    assert [k["kid"] for k in jwks["keys"] if k["use"] == "sig"] == [new_kid, old_kid]
    # Tokens signed before the rotation still verify against the published set.
    assert verify_with_pyjwt(old_token, jwks, issuer=fresh_idp.issuer)["azp"] == "shop-api"
    assert verify_with_pyjwt(new_token, jwks, issuer=fresh_idp.issuer)["azp"] == "shop-api"


def test_retired_key_leaves_the_jwks(fresh_idp: DevIdP, dev_env: dict[str, str]) -> None:
    old_kid = fresh_idp.active_kid
    old_token = fresh_idp.mint_token("shop-api")
    fresh_idp.rotate_keys()
    fresh_idp.retire_key(old_kid)
    jwks = httpx.get(fresh_idp.jwks_uri, timeout=10).json()
    assert old_kid not in {k["kid"] for k in jwks["keys"]}
    with pytest.raises(StopIteration):
        verify_with_pyjwt(old_token, jwks, issuer=fresh_idp.issuer)


def test_the_active_key_cannot_be_retired(fresh_idp: DevIdP) -> None:
    with pytest.raises(ValueError, match="active"):
        fresh_idp.retire_key(fresh_idp.active_kid)
    with pytest.raises(KeyError):
        fresh_idp.retire_key("no-such-kid")


def test_mint_token_with_a_passive_kid(fresh_idp: DevIdP) -> None:
    old_kid = fresh_idp.active_kid
    fresh_idp.rotate_keys()
    token = fresh_idp.mint_token("shop-api", kid=old_kid)
    assert header_of(token)["kid"] == old_kid
    verify_with_pyjwt(token, fresh_idp.jwks(), issuer=fresh_idp.issuer)


def test_a_token_from_another_provider_does_not_verify(idp: DevIdP, fresh_idp: DevIdP) -> None:
    foreign = fresh_idp.mint_token("shop-api")
    with pytest.raises((StopIteration, jwt.InvalidTokenError)):
        verify_with_pyjwt(foreign, idp.jwks(), issuer=idp.issuer)
