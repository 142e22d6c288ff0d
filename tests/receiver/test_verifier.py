"""Verifier: one row per refusal, each asserting its exact code; construction rules; every
supported algorithm; order of checks (signature before claims)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from receiver_support import (
    AUDIENCE,
    DROP,
    ISSUER,
    NOW,
    OTHER_ISSUER,
    Clock,
    Realm,
    raw_token,
    service_claims,
)

from svcauth._errors import ConfigurationError, InvalidTokenError
from svcauth._jwk import public_jwk
from svcauth._jws import ALGORITHMS, b64url_encode
from svcauth.receiver import StaticKeySet, VerifiedTokenCache, Verifier


def _realm() -> Realm:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    return realm


def _verifier(realm: Realm, **options: Any) -> Verifier:
    options.setdefault("cache", None)
    return Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=StaticKeySet(realm.jwks(),
                    issuer=ISSUER), clock=Clock(), **options)


def _signed_raw(realm: Realm, header: bytes, payload: bytes, kid: str = "k1") -> str:
    """Sign arbitrary header/payload bytes with the realm's key."""
    key, alg = realm.keys[kid]
    signing_input = f"{b64url_encode(header)}.{b64url_encode(payload)}"
    return f"{signing_input}.{b64url_encode(ALGORITHMS[alg].sign(key, signing_input.encode()))}"


def _claims(**overrides: Any) -> dict[str, Any]:
    return service_claims(NOW, **overrides)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _dirty_tail(token: str) -> str:
    """Set a trailing bit in the signature: decodes to the same bytes, but not canonical."""
    assert len(token.rsplit(".", 1)[1]) % 4 == 2  # RS256: 342 characters, 4 spare bits
    return token[:-1] + _B64[_B64.index(token[-1]) + 1]


Case = tuple[str, Callable[[Realm], str], str]

CASES: list[Case] = [
    # size and shape, before anything is decoded
    ("too large", lambda r: "a" * 9000, "token_too_large"),
    ("two segments", lambda r: "eyJhbGciOiJSUzI1NiJ9.e30", "token_malformed"),
    ("many dots", lambda r: "." * 4000, "token_malformed"),
    ("JWE, five segments", lambda r: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "token_malformed"),
    ("non-ASCII", lambda r: r.token() + "é", "token_malformed"),
    ("empty", lambda r: "", "token_malformed"),
    ("padded payload", lambda r: (lambda h, p, s: f"{h}.{p}==.{s}")(*r.token().split(".")),
     "token_malformed"),
    ("standard alphabet in signature",
     lambda r: (lambda h, p, s: f"{h}.{p}.{s[:-2]}+/")(*r.token().split(".")), "token_malformed"),
    ("whitespace in payload",
     lambda r: (lambda h, p, s: f"{h}.{p[:5]} {p[5:]}.{s}")(*r.token().split(".")),
     "token_malformed"),
    ("non-zero trailing bits in the signature", lambda r: _dirty_tail(r.token()),
     "token_malformed"),
    ("length 1 mod 4 signature", lambda r: r.token() + "AAA", "token_malformed"),
    # header
    ("header not JSON", lambda r: raw_token(b"not json", {}), "token_malformed"),
    ("header a JSON array", lambda r: raw_token(["RS256"], {}), "token_malformed"),
    ("header duplicate alg", lambda r: raw_token(b'{"alg":"RS256","alg":"none"}', {}),
     "token_malformed"),
    ("header invalid UTF-8", lambda r: raw_token(b'{"alg":"RS256","x":"\xff"}', {}),
     "token_malformed"),
    ("header UTF-16", lambda r: raw_token('{"alg":"RS256"}'.encode("utf-16"), {}),
     "token_malformed"),
    ("header with BOM", lambda r: raw_token(b'\xef\xbb\xbf{"alg":"RS256"}', {}),
     "token_malformed"),
    ("header nested 3000 deep", lambda r: raw_token(b"[" * 3000, {}), "token_malformed"),
    ("alg none", lambda r: raw_token({"alg": "none"}, _claims(), b""), "alg_not_allowed"),
    ("alg None", lambda r: raw_token({"alg": "None"}, _claims(), b""), "alg_not_allowed"),
    ("alg NONE", lambda r: raw_token({"alg": "NONE"}, _claims(), b""), "alg_not_allowed"),
    ("alg HS256", lambda r: raw_token({"alg": "HS256", "kid": "k1"}, _claims()),
     "alg_not_allowed"),
    ("alg off the allow-list", lambda r: raw_token({"alg": "ES256", "kid": "k1"}, _claims()),
     "alg_not_allowed"),
    ("alg missing", lambda r: raw_token({"kid": "k1"}, _claims()), "header_invalid"),
    ("alg not a string", lambda r: raw_token({"alg": ["RS256"]}, _claims()), "header_invalid"),
    ("crit", lambda r: r.token(header={"crit": ["exp"], "exp": 1}), "crit_unsupported"),
    ("b64 false with crit", lambda r: r.token(header={"crit": ["b64"], "b64": False}),
     "crit_unsupported"),
    ("b64 false", lambda r: r.token(header={"b64": False}), "header_invalid"),
    ("typ JOSE", lambda r: r.token(header={"typ": "JOSE"}), "header_invalid"),
    ("typ not a string", lambda r: r.token(header={"typ": 1}), "header_invalid"),
    ("kid a number", lambda r: r.token(header={"kid": 7}), "header_invalid"),
    ("kid null", lambda r: r.token(header={"kid": None}), "header_invalid"),
    ("typ null", lambda r: r.token(header={"typ": None}), "header_invalid"),
    ("kid null is no kid but two keys", lambda r: raw_token({"alg": "RS256"}, _claims()),
     "key_not_found"),
    # key
    ("kid unknown", lambda r: r.token(header={"kid": "nope"}), "key_not_found"),
    ("kid path traversal", lambda r: r.token(header={"kid": "../../etc/passwd"}),
     "key_not_found"),
    ("kid SQL", lambda r: r.token(header={"kid": "' OR 1=1 --"}), "key_not_found"),
    # signature
    ("payload changed after signing",
     lambda r: (lambda h, p, s: f"{h}.{b64url_encode(json.dumps(_claims(azp='admin')).encode())}"
                f".{s}")(*r.token().split(".")), "signature_invalid"),
    ("signature of another key, same kid", lambda r: _attacker().token(), "signature_invalid"),
    ("empty signature", lambda r: r.token().rsplit(".", 1)[0] + ".", "signature_invalid"),
    ("attacker key in jwk header",
     lambda r: (lambda a: a.token(header={"kid": "k1", "jwk": public_jwk(a.keys["k1"][0])}))(
         _attacker()), "signature_invalid"),
    ("attacker jku and x5u",
     lambda r: _attacker().token(header={"jku": "http://evil/jwks", "x5u": "http://evil/c"}),
     "signature_invalid"),
    # payload, after the signature
    ("payload not JSON", lambda r: _signed_raw(r, b'{"alg":"RS256","kid":"k1"}', b"nope"),
     "token_malformed"),
    ("payload a JSON array", lambda r: _signed_raw(r, b'{"alg":"RS256","kid":"k1"}', b"[1]"),
     "token_malformed"),
    ("payload duplicate iss",
     lambda r: _signed_raw(r, b'{"alg":"RS256","kid":"k1"}',
                           json.dumps(_claims()).encode()[:-1] + b',"iss":"x"}'),
     "token_malformed"),
    ("payload with NaN",
     lambda r: _signed_raw(r, b'{"alg":"RS256","kid":"k1"}',
                           json.dumps(_claims()).encode()[:-1] + b',"x":NaN}'),
     "token_malformed"),
    ("payload invalid UTF-8",
     lambda r: _signed_raw(r, b'{"alg":"RS256","kid":"k1"}',
                           json.dumps(_claims()).encode()[:-1] + b',"x":"\xc3"}'),
     "token_malformed"),
    ("exp missing", lambda r: r.token(_claims(exp=DROP)), "claim_invalid"),
    ("exp a string", lambda r: r.token(_claims(exp=str(int(NOW) + 60))), "claim_invalid"),
    ("exp null", lambda r: r.token(_claims(exp=None)), "claim_invalid"),
    ("exp a list", lambda r: r.token(_claims(exp=[int(NOW) + 60])), "claim_invalid"),
    ("exp true", lambda r: r.token(_claims(exp=True)), "claim_invalid"),
    ("exp 1e308", lambda r: r.token(_claims(exp=1e308)), "claim_invalid"),
    ("exp 1e400 (infinity)",
     lambda r: _signed_raw(r, b'{"alg":"RS256","kid":"k1"}',
                           json.dumps(_claims(exp=DROP)).encode()[:-1] + b',"exp":1e400}'),
     "claim_invalid"),
    ("exp negative", lambda r: r.token(_claims(exp=-1)), "claim_invalid"),
    ("expired past leeway", lambda r: r.token(_claims(exp=int(NOW) - 31)), "token_expired"),
    ("exp == now - leeway", lambda r: r.token(_claims(exp=int(NOW) - 30)), "token_expired"),
    ("nbf in the future", lambda r: r.token(_claims(nbf=int(NOW) + 31)), "token_not_yet_valid"),
    ("nbf a string", lambda r: r.token(_claims(nbf="0")), "claim_invalid"),
    ("iat in the future", lambda r: r.token(_claims(iat=int(NOW) + 31)), "iat_in_future"),
    ("iat false", lambda r: r.token(_claims(iat=False)), "claim_invalid"),
    ("iss of another realm", lambda r: r.token(_claims(iss=OTHER_ISSUER)), "issuer_mismatch"),
    ("iss with a trailing slash", lambda r: r.token(_claims(iss=ISSUER + "/")),
     "issuer_mismatch"),
    ("iss a prefix", lambda r: r.token(_claims(iss=ISSUER[:-1])), "issuer_mismatch"),
    ("iss missing", lambda r: r.token(_claims(iss=DROP)), "issuer_mismatch"),
    ("iss a list", lambda r: r.token(_claims(iss=[ISSUER])), "issuer_mismatch"),
    ("aud another service", lambda r: r.token(_claims(aud="shop-api")), "audience_mismatch"),
    ("aud only account", lambda r: r.token(_claims(aud=["account"])), "audience_mismatch"),
    ("aud missing", lambda r: r.token(_claims(aud=DROP)), "audience_mismatch"),
    ("aud a number", lambda r: r.token(_claims(aud=5)), "claim_invalid"),
    ("aud list with a number", lambda r: r.token(_claims(aud=[AUDIENCE, 5])), "claim_invalid"),
    ("aud substring", lambda r: r.token(_claims(aud=AUDIENCE[:-1])), "audience_mismatch"),
    ("ID token", lambda r: r.token(_claims(typ="ID")), "token_type_invalid"),
    ("refresh token", lambda r: r.token(_claims(typ="Refresh")), "token_type_invalid"),
    ("typ claim missing", lambda r: r.token(_claims(typ=DROP)), "token_type_invalid"),
    ("typ claim a list", lambda r: r.token(_claims(typ=["Bearer"])), "token_type_invalid"),
    ("typ claim lower case", lambda r: r.token(_claims(typ="bearer")), "token_type_invalid"),
]


def _attacker() -> Realm:
    attacker = Realm()
    attacker.add_key("RS256", kid="k1")
    return attacker


@pytest.mark.parametrize(("name", "make", "code"), CASES, ids=[c[0] for c in CASES])
def test_refusal_has_exact_code(name: str, make: Callable[[Realm], str], code: str) -> None:
    realm = _realm()
    if name == "kid null is no kid but two keys":
        realm.add_key("RS256", kid="k2")
    verifier = _verifier(realm)
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(make(realm))
    assert info.value.code == code, info.value.message


@pytest.mark.parametrize(("name", "make", "code"), CASES[::7], ids=[c[0] for c in CASES[::7]])
@pytest.mark.anyio
async def test_async_refusal_has_same_code(name: str, make: Callable[[Realm], str],
                                           code: str) -> None:
    realm = _realm()
    with pytest.raises(InvalidTokenError) as info:
        await _verifier(realm).averify(make(realm))
    assert info.value.code == code


ACCEPTED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("Keycloak access token", {}, {}),
    ("exp inside the leeway", {"exp": int(NOW) - 29}, {}),
    ("nbf inside the leeway", {"nbf": int(NOW) + 29}, {}),
    ("exp a float", {"exp": NOW + 60.5}, {}),
    ("aud a single string", {"aud": AUDIENCE}, {}),
    ("header typ at+jwt", {}, {"typ": "at+jwt"}),
    ("header typ lower-case jwt", {}, {"typ": "jwt"}),
    ("header typ application/at+jwt", {}, {"typ": "application/at+jwt"}),
    ("unused jku is ignored", {}, {"jku": "https://evil.example/jwks"}),
]


@pytest.mark.parametrize(("name", "claims", "header"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_valid_variants_are_accepted(name: str, claims: dict[str, Any],
                                     header: dict[str, Any]) -> None:
    realm = _realm()
    token = realm.token(_claims(**claims), header=header)
    result = _verifier(realm).verify(token)
    assert result.azp == "inventory-sync"
    assert result.kid == "k1" and result.alg == "RS256"


def test_header_without_typ_is_accepted() -> None:
    realm = _realm()
    token = _signed_raw(realm, b'{"alg":"RS256","kid":"k1"}', json.dumps(_claims()).encode())
    assert "typ" not in _verifier(realm).verify(token).header


def test_token_without_kid_uses_the_only_key() -> None:
    realm = _realm()
    token = _signed_raw(realm, b'{"alg":"RS256"}', json.dumps(_claims()).encode())
    assert _verifier(realm).verify(token).kid is None


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
                                 "ES384", "ES512", "EdDSA"])
def test_every_supported_algorithm_verifies(alg: str) -> None:
    realm = Realm()
    realm.add_key(alg, kid="k")
    claims = _verifier(realm, algorithms=[alg]).verify(realm.token(_claims()))
    assert claims.alg == alg
    assert claims.subject == "3f1c0b1e-0000-4000-8000-000000000001"


def test_alg_not_matching_the_key_type_is_key_not_found() -> None:
    realm = _realm()  # k1 is RSA
    es = Realm()
    es.add_key("ES256", kid="k1")
    verifier = _verifier(realm, algorithms=["RS256", "ES256"])
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(es.token(_claims()))
    assert info.value.code == "key_not_found"


def test_signature_is_checked_before_claims() -> None:
    realm = _realm()
    expired_and_forged = _attacker().token(_claims(exp=1, iss="x", aud="y"))
    with pytest.raises(InvalidTokenError) as info:
        _verifier(realm).verify(expired_and_forged)
    assert info.value.code == "signature_invalid"


def test_messages_never_echo_token_or_claim_values() -> None:
    realm = _realm()
    secret_sub = "very-secret-subject-value"
    tokens = [realm.token(_claims(sub=secret_sub, exp=1)), realm.token(_claims(aud=secret_sub)),
              realm.token(_claims(typ=secret_sub)), realm.token(header={"kid": secret_sub}),
              realm.token(header={"typ": secret_sub}), raw_token({"alg": secret_sub}, {})]
    for token in tokens:
        with pytest.raises(InvalidTokenError) as info:
            _verifier(realm).verify(token)
        text = f"{info.value.message} {info.value!r}"
        assert secret_sub not in text
        assert all(part not in text for part in token.split(".") if len(part) > 8)


def test_token_types_none_skips_keycloak_typ_claim() -> None:
    realm = _realm()
    token = realm.token(_claims(typ=DROP), header={"typ": "at+jwt"})
    assert _verifier(realm, token_types=None).verify(token).token_type is None


def test_several_audiences_accept_any_of_them() -> None:
    realm = _realm()
    verifier = Verifier(issuer=ISSUER, audience=["shop-api", AUDIENCE],
                        key_set=StaticKeySet(realm.jwks(), issuer=ISSUER), clock=Clock())
    assert verifier.verify(realm.token(_claims(aud="shop-api"))).audience == ("shop-api",)


def test_claims_mapping_is_read_only_with_typed_accessors() -> None:
    realm = _realm()
    claims = _verifier(realm).verify(realm.token(_claims(scope="a b", exp=int(NOW) + 60)))
    assert claims["azp"] == "inventory-sync" and claims.client_id == "inventory-sync"
    assert claims.issuer == ISSUER and claims.audience == (AUDIENCE, "account")
    assert claims.scopes == frozenset({"a", "b"}) and claims.expires_at == NOW + 60
    assert claims.header["kid"] == "k1"
    with pytest.raises(TypeError):
        claims["azp"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        claims.header["kid"] = "x"  # type: ignore[index]
    assert "3f1c0b1e" not in repr(claims)


CONFIG_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("no issuer", {"issuer": ""}),
    ("no audience", {"audience": ""}),
    ("empty audience list", {"audience": []}),
    ("no algorithms", {"algorithms": []}),
    ("alg none", {"algorithms": ["none"]}),
    ("HMAC", {"algorithms": ["RS256", "HS256"]}),
    ("unknown alg", {"algorithms": ["RS257"]}),
    ("key set of another issuer", {"key_set": StaticKeySet({"keys": []}, issuer=OTHER_ISSUER)}),
    ("negative leeway", {"leeway": -1}),
    ("no key set", {"key_set": None}),
]


@pytest.mark.parametrize(("name", "override"), CONFIG_ERRORS, ids=[c[0] for c in CONFIG_ERRORS])
def test_verifier_does_not_construct_without_safe_config(name: str,
                                                          override: dict[str, Any]) -> None:
    options: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE,
                               "key_set": StaticKeySet({"keys": []}, issuer=ISSUER)}
    options.update(override)
    with pytest.raises(ConfigurationError):
        Verifier(**options)


def test_one_cache_cannot_serve_two_verifiers() -> None:
    cache = VerifiedTokenCache()
    keys = StaticKeySet({"keys": []}, issuer=ISSUER)
    Verifier(issuer=ISSUER, audience="a", key_set=keys, cache=cache)
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience="b", key_set=keys, cache=cache)


def test_non_string_token_is_malformed() -> None:
    verifier = _verifier(_realm())
    for value in (None, b"a.b.c", 5, ["a"]):
        with pytest.raises(InvalidTokenError) as info:
            verifier.verify(value)  # type: ignore[arg-type]
        assert info.value.code == "token_malformed"
