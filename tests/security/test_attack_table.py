"""The verifier's attack table: one row per attack, each asserting the exact error code.

Every row is a token that a careless verifier would accept or trip over. Keys are generated
per session, the clock is injected (``NOW``), the key set is a ``StaticKeySet`` of the
realm's keys; rows that need a JWKS endpoint live in test_attack_jwks_endpoint.py and rows
decided by the service policy in test_attack_policy.py. Token builders: attack_tokens.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from attack_kit import (
    AUDIENCE,
    DROP,
    ISSUER,
    KID,
    LEEWAY,
    NOW,
    OTHER_ISSUER,
    clock,
    default_kid,
    keys,
    mint,
    raw_segment,
    realm_key,
    segment,
    service_claims,
    sign_raw,
)
from attack_tokens import (
    P256_ORDER,
    attacker,
    attacker_cert_b64,
    claims_token,
    der_ecdsa,
    ecdsa_signature,
    header_b64,
    hmac_with_public_key,
    jwe,
    noncanonical,
    raw_header,
    raw_payload,
    signature_variant,
    time_claims_raw,
    unsigned,
    with_partial_quantum,
    with_trailing_bits,
)

from svcauth import InvalidTokenError
from svcauth._jwk import public_jwk, thumbprint
from svcauth._jws import b64url_decode, b64url_encode
from svcauth.receiver import StaticKeySet, Verifier

ALL_ALGS = ("RS256", "PS256", "ES256", "ES384", "EdDSA")


def verifier(*, algorithms: tuple[str, ...] = ("RS256",), jwks: Any = None, **kw: Any) -> Verifier:
    """The verifier under attack: realm keys, injected clock, no cache (rows stay independent)."""
    key_set = StaticKeySet(jwks if jwks is not None else keys().jwks(), issuer=ISSUER)
    return Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=key_set, algorithms=algorithms,
                    clock=clock, cache=None, **kw)


# -- the table ----------------------------------------------------------------------------

Row = tuple[str, Callable[[], str], dict[str, Any], str]
MULTI = {"algorithms": ALL_ALGS}

ROWS: list[Row] = [
    # alg none in every spelling, with and without a signature
    ("alg_none", lambda: unsigned("none"), {}, "alg_not_allowed"),
    ("alg_None", lambda: unsigned("None"), {}, "alg_not_allowed"),
    ("alg_NONE", lambda: unsigned("NONE"), {}, "alg_not_allowed"),
    ("alg_nOnE", lambda: unsigned("nOnE"), {}, "alg_not_allowed"),
    ("alg_none_with_signature", lambda: unsigned("none") + "c2ln", {}, "alg_not_allowed"),
    ("alg_none_all_algs_allowed", lambda: unsigned("none"), MULTI, "alg_not_allowed"),
    ("alg_empty_string", lambda: unsigned(""), {}, "alg_not_allowed"),
    ("alg_lower_case_rs256", lambda: mint(header={"alg": "rs256"}), {}, "alg_not_allowed"),
    ("alg_missing", lambda: sign_raw(header_b64(alg=DROP), segment(service_claims()), keys().rsa, "RS256"), {}, "header_invalid"),
    ("alg_null", lambda: sign_raw(header_b64(alg=None), segment(service_claims()), keys().rsa, "RS256"), {}, "header_invalid"),
    ("alg_list", lambda: sign_raw(header_b64(alg=["RS256"]), segment(service_claims()), keys().rsa, "RS256"), {}, "header_invalid"),
    # HMAC keyed with the RSA public key (the classic algorithm confusion)
    ("hs256_with_public_key_pem", lambda: hmac_with_public_key("pem"), {}, "alg_not_allowed"),
    ("hs256_with_public_key_der", lambda: hmac_with_public_key("der"), {}, "alg_not_allowed"),
    ("hs256_with_public_key_jwk", lambda: hmac_with_public_key("jwk"), {}, "alg_not_allowed"),
    ("hs256_pem_all_asymmetric_allowed", lambda: hmac_with_public_key("pem"), MULTI, "alg_not_allowed"),
    ("keycloak_refresh_token_hs512", lambda: mint(service_claims(typ="Refresh"), header={"alg": "HS512"}), {}, "alg_not_allowed"),
    # algorithm off the allow-list, or not matching the key
    ("rs512_off_allow_list", lambda: mint(alg="RS512"), {}, "alg_not_allowed"),
    ("es256_on_rs256_only_verifier", lambda: mint(alg="ES256", key=keys().ec256, kid="ec-1"), {}, "alg_not_allowed"),
    ("eddsa_on_rs256_only_verifier", lambda: mint(alg="EdDSA", key=keys().ed, kid="ed-1"), {}, "alg_not_allowed"),
    ("es256_header_naming_rsa_kid", lambda: mint(alg="ES256", key=keys().ec256, kid=KID), MULTI, "key_not_found"),
    ("rs256_header_naming_ec_kid", lambda: mint(alg="RS256", kid="ec-1"), MULTI, "key_not_found"),
    ("ps256_with_key_declared_rs256", lambda: mint(alg="PS256"), MULTI, "key_not_found"),
    ("es384_header_naming_p256_kid", lambda: mint(alg="ES384", key=keys().ec384, kid="ec-1"), MULTI, "key_not_found"),
    ("eddsa_header_naming_rsa_kid", lambda: mint(alg="EdDSA", key=keys().ed, kid=KID), MULTI, "key_not_found"),
    # attacker keys offered in the header are never used
    ("jwk_header_attacker_key_no_kid", lambda: attacker({"jwk": public_jwk(keys().attacker)}, kid=None), {}, "signature_invalid"),
    ("jwk_header_attacker_key_own_kid", lambda: attacker({"jwk": public_jwk(keys().attacker)}, kid=thumbprint(public_jwk(keys().attacker))), {}, "key_not_found"),
    ("jwk_header_attacker_key_realm_kid", lambda: attacker({"jwk": public_jwk(keys().attacker, kid=KID)}), {}, "signature_invalid"),
    ("jku_header_attacker_url", lambda: attacker({"jku": "http://127.0.0.1:9/jwks.json"}, kid="attacker-1"), {}, "key_not_found"),
    ("jku_header_realm_kid", lambda: attacker({"jku": "http://127.0.0.1:9/jwks.json"}), {}, "signature_invalid"),
    ("x5u_header_attacker_url", lambda: attacker({"x5u": "http://127.0.0.1:9/cert.pem"}, kid="attacker-1"), {}, "key_not_found"),
    ("x5c_header_attacker_cert", lambda: attacker({"x5c": [attacker_cert_b64()]}, kid=None), {}, "signature_invalid"),
    ("x5c_header_attacker_cert_realm_kid", lambda: attacker({"x5c": [attacker_cert_b64()]}), {}, "signature_invalid"),
    # kid values meant for a file system, a database, or a type confusion
    ("kid_path_traversal", lambda: mint(kid="../../../../../../dev/null"), {}, "key_not_found"),
    ("kid_absolute_path", lambda: mint(kid="/etc/passwd"), {}, "key_not_found"),
    ("kid_sql_injection", lambda: mint(kid="x' UNION SELECT 'secret' --"), {}, "key_not_found"),
    ("kid_nul_byte", lambda: mint(kid=KID + "\u0000"), {}, "key_not_found"),
    ("kid_prefix_of_real_kid", lambda: mint(kid=KID[:-1]), {}, "key_not_found"),
    ("kid_4000_chars", lambda: mint(kid="k" * 4000), {}, "key_not_found"),
    ("kid_integer", lambda: mint(kid=None, header={"kid": 1}), {}, "header_invalid"),
    ("kid_boolean", lambda: mint(kid=None, header={"kid": True}), {}, "header_invalid"),
    ("kid_list", lambda: mint(kid=None, header={"kid": [KID]}), {}, "header_invalid"),
    ("kid_object_nosql", lambda: mint(kid=None, header={"kid": {"$ne": ""}}), {}, "header_invalid"),
    # A JSON null is not a string: joserfc and PyJWT both refuse these (see test_differential).
    ("kid_null_realm_key", lambda: mint(kid=None, header={"kid": None}), {}, "header_invalid"),
    # keys that may not verify
    ("use_enc_key", lambda: mint(kid="enc-1"), {"jwks": {"keys": [public_jwk(keys().rsa, kid="enc-1", use="enc")]}}, "key_not_found"),
    ("key_ops_encrypt_only", lambda: mint(kid="ops-1"), {"jwks": {"keys": [{**public_jwk(keys().rsa, kid="ops-1"), "key_ops": ["encrypt"]}]}}, "key_not_found"),
    ("short_rsa_key_1024", lambda: mint(key=keys().short_rsa, kid="short"), {"jwks": {"keys": [public_jwk(keys().short_rsa, kid="short", use="sig"), public_jwk(keys().rsa, kid=KID)]}}, "key_not_found"),
    ("no_kid_two_candidate_keys", lambda: mint(kid=None), {"jwks": {"keys": [public_jwk(keys().rsa, kid=KID), public_jwk(keys().other_realm, kid="rsa-2")]}}, "key_not_found"),
    ("one_kid_two_different_keys", lambda: mint(), {"jwks": {"keys": [public_jwk(keys().rsa, kid=KID), public_jwk(keys().other_realm, kid=KID)]}}, "key_not_found"),
    # another realm
    ("other_realm_same_kid", lambda: mint(service_claims(iss=OTHER_ISSUER), key=keys().other_realm), {}, "signature_invalid"),
    ("other_realm_issuer_realm_key", lambda: mint(service_claims(iss=OTHER_ISSUER)), {}, "issuer_mismatch"),
    # crit and b64
    ("crit_exp", lambda: mint(header={"crit": ["exp"], "exp": 1}), {}, "crit_unsupported"),
    ("crit_empty_list", lambda: mint(header={"crit": []}), {}, "crit_unsupported"),
    ("crit_b64_false", lambda: mint(header={"crit": ["b64"], "b64": False}), {}, "crit_unsupported"),
    ("b64_false_without_crit", lambda: mint(header={"b64": False}), {}, "header_invalid"),
    ("b64_string_true", lambda: mint(header={"b64": "true"}), {}, "header_invalid"),
    # header typ
    ("header_typ_jose", lambda: mint(header={"typ": "JOSE"}), {}, "header_invalid"),
    ("header_typ_secevent", lambda: mint(header={"typ": "secevent+jwt"}), {}, "header_invalid"),
    ("header_typ_integer", lambda: mint(header={"typ": 1}), {}, "header_invalid"),
    ("header_typ_null", lambda: mint(header={"typ": None}), {}, "header_invalid"),
    # expiry, not-before, issued-at
    ("expired_past_leeway", lambda: claims_token(exp=int(NOW - LEEWAY) - 1), {}, "token_expired"),
    ("exp_equal_now_minus_leeway", lambda: claims_token(exp=int(NOW - LEEWAY)), {}, "token_expired"),
    ("exp_long_ago", lambda: claims_token(exp=1), {}, "token_expired"),
    ("exp_zero", lambda: claims_token(exp=0), {}, "token_expired"),
    ("exp_missing", lambda: claims_token(exp=DROP), {}, "claim_invalid"),
    ("nbf_future_past_leeway", lambda: claims_token(nbf=int(NOW + LEEWAY) + 1), {}, "token_not_yet_valid"),
    ("iat_future_past_leeway", lambda: claims_token(iat=int(NOW + LEEWAY) + 1), {}, "iat_in_future"),
    ("zero_leeway_exp_equal_now", lambda: claims_token(exp=int(NOW)), {"leeway": 0}, "token_expired"),
]

# time claims of the wrong type or absurd value
for _claim in ("exp", "nbf", "iat"):
    for _label, _value in (("string", str(int(NOW) + 100)), ("null", None), ("list", [int(NOW) + 100]),
                           ("true", True), ("false", False), ("object", {"t": 1}),
                           ("1e308", 1e308), ("negative", -1), ("year_10000", 253_402_300_800)):
        ROWS.append((f"{_claim}_{_label}", lambda c=_claim, v=_value: claims_token(**{c: v}), {}, "claim_invalid"))
    ROWS.append((f"{_claim}_1e309_is_infinity", lambda c=_claim: time_claims_raw(c, "1e309"), {}, "claim_invalid"))
    ROWS.append((f"{_claim}_minus_1e309", lambda c=_claim: time_claims_raw(c, "-1e309"), {}, "claim_invalid"))
    ROWS.append((f"{_claim}_NaN_literal", lambda c=_claim: time_claims_raw(c, "NaN"), {}, "token_malformed"))
    ROWS.append((f"{_claim}_Infinity_literal", lambda c=_claim: time_claims_raw(c, "Infinity"), {}, "token_malformed"))
    ROWS.append((f"{_claim}_5000_digit_integer", lambda c=_claim: time_claims_raw(c, "9" * 5000), {}, "token_malformed"))

ROWS += [
    # issuers
    ("issuer_wrong", lambda: claims_token(iss="https://evil.example/realms/techstore"), {}, "issuer_mismatch"),
    ("issuer_prefix_substring", lambda: claims_token(iss=ISSUER[:-4]), {}, "issuer_mismatch"),
    ("issuer_extended", lambda: claims_token(iss=ISSUER + "-evil"), {}, "issuer_mismatch"),
    ("issuer_trailing_slash", lambda: claims_token(iss=ISSUER + "/"), {}, "issuer_mismatch"),
    ("issuer_upper_case_scheme", lambda: claims_token(iss=ISSUER.replace("http", "HTTP")), {}, "issuer_mismatch"),
    ("issuer_missing", lambda: claims_token(iss=DROP), {}, "issuer_mismatch"),
    ("issuer_null", lambda: claims_token(iss=None), {}, "issuer_mismatch"),
    ("issuer_list", lambda: claims_token(iss=[ISSUER]), {}, "issuer_mismatch"),
    # audiences
    ("audience_wrong", lambda: claims_token(aud="shop-api"), {}, "audience_mismatch"),
    ("audience_missing", lambda: claims_token(aud=DROP), {}, "audience_mismatch"),
    ("audience_keycloak_default_account_list", lambda: claims_token(aud=["account"]), {}, "audience_mismatch"),
    ("audience_keycloak_default_account", lambda: claims_token(aud="account"), {}, "audience_mismatch"),
    ("audience_empty_list", lambda: claims_token(aud=[]), {}, "audience_mismatch"),
    ("audience_substring", lambda: claims_token(aud="notification"), {}, "audience_mismatch"),
    ("audience_extended", lambda: claims_token(aud=[AUDIENCE + "-evil"]), {}, "audience_mismatch"),
    ("audience_case_changed", lambda: claims_token(aud="Notification-Service"), {}, "audience_mismatch"),
    ("audience_space_joined", lambda: claims_token(aud=f"account {AUDIENCE}"), {}, "audience_mismatch"),
    ("audience_list_with_number", lambda: claims_token(aud=[AUDIENCE, 5]), {}, "claim_invalid"),
    ("audience_number", lambda: claims_token(aud=5), {}, "claim_invalid"),
    ("audience_null", lambda: claims_token(aud=None), {}, "claim_invalid"),
    ("audience_object", lambda: claims_token(aud={AUDIENCE: True}), {}, "claim_invalid"),
    # ID, refresh and other Keycloak token types
    ("keycloak_id_token", lambda: claims_token(typ="ID", aud="shop-api", azp="shop-api"), {}, "audience_mismatch"),
    ("keycloak_id_token_for_receiver", lambda: claims_token(typ="ID"), {}, "token_type_invalid"),
    ("keycloak_refresh_token_rs256", lambda: claims_token(typ="Refresh"), {}, "token_type_invalid"),
    ("keycloak_offline_token", lambda: claims_token(typ="Offline"), {}, "token_type_invalid"),
    ("keycloak_logout_token", lambda: claims_token(typ="Logout"), {}, "token_type_invalid"),
    ("token_type_missing", lambda: claims_token(typ=DROP), {}, "token_type_invalid"),
    ("token_type_lower_case", lambda: claims_token(typ="bearer"), {}, "token_type_invalid"),
    ("token_type_list", lambda: claims_token(typ=["Bearer"]), {}, "token_type_invalid"),
    # size and shape
    ("oversized_token", lambda: mint(service_claims(pad="x" * 9000)), {}, "token_too_large"),
    ("oversized_garbage", lambda: "a" * 8193, {}, "token_too_large"),
    ("many_dots", lambda: "." * 4000, {}, "token_malformed"),
    ("many_segments", lambda: ".".join(["eyJhIjoxfQ"] * 500), {}, "token_malformed"),
    ("four_segments", lambda: mint() + ".eyJ4IjoxfQ", {}, "token_malformed"),
    ("two_segments", lambda: mint().rsplit(".", 1)[0], {}, "token_malformed"),
    ("one_segment", lambda: "eyJhbGciOiJSUzI1NiJ9", {}, "token_malformed"),
    ("empty_token", lambda: "", {}, "token_malformed"),
    ("empty_segments", lambda: "..", {}, "token_malformed"),
    ("jwe_compact", jwe, {}, "token_malformed"),
    ("non_ascii_token", lambda: mint()[:-2] + "\u00e9", {}, "token_malformed"),
    ("whitespace_around_token", lambda: " " + mint(), {}, "token_malformed"),
    # duplicate JSON members (PyJWT keeps the last one)
    ("duplicate_iss_in_payload", lambda: raw_payload(json.dumps(service_claims(), separators=(",", ":")).replace('{"exp"', '{"iss":"https://evil.example","exp"', 1).encode()), {}, "token_malformed"),
    ("duplicate_aud_in_payload", lambda: raw_payload(json.dumps(service_claims(aud="shop-api"), separators=(",", ":"))[:-1].encode() + f',"aud":"{AUDIENCE}"}}'.encode()), {}, "token_malformed"),
    ("duplicate_nested_member", lambda: raw_payload(json.dumps(service_claims(), separators=(",", ":")).replace('"realm_access":{', '"realm_access":{"roles":[],', 1).encode()), {}, "token_malformed"),
    ("duplicate_alg_in_header", lambda: sign_raw(raw_segment(b'{"alg":"none","alg":"RS256","kid":"' + KID.encode() + b'"}'), segment(service_claims()), keys().rsa, "RS256"), {}, "token_malformed"),
    ("duplicate_kid_in_header", lambda: sign_raw(raw_segment(b'{"alg":"RS256","kid":"x","kid":"' + KID.encode() + b'"}'), segment(service_claims()), keys().rsa, "RS256"), {}, "token_malformed"),
    # non-canonical base64url (a second spelling of a signed token)
    *[(f"noncanonical_{v}", lambda v=v: noncanonical(v), {}, "token_malformed") for v in (
        "payload_padding", "payload_trailing_bits", "payload_standard_alphabet", "payload_newline",
        "payload_space", "payload_one_extra_char", "header_padding", "header_trailing_bits")],
    *[(f"noncanonical_signature_{v}", lambda v=v: signature_variant(v), {}, "token_malformed")
      for v in ("standard_alphabet", "trailing_bits", "padding")],
    # invalid UTF-8 and payloads that are not JSON objects
    ("payload_invalid_utf8", lambda: raw_payload(b'{"iss":"\xff\xfe"}'), {}, "token_malformed"),
    ("payload_overlong_utf8", lambda: raw_payload(b'{"iss":"\xc0\xaf"}'), {}, "token_malformed"),
    ("payload_utf8_surrogate", lambda: raw_payload(b'{"iss":"\xed\xa0\x80"}'), {}, "token_malformed"),
    ("payload_utf8_bom", lambda: raw_payload(b"\xef\xbb\xbf" + json.dumps(service_claims()).encode()), {}, "token_malformed"),
    ("payload_utf16", lambda: raw_payload(json.dumps(service_claims()).encode("utf-16")), {}, "token_malformed"),
    ("payload_latin1", lambda: raw_payload(json.dumps(service_claims(azp="caf\u00e9"), ensure_ascii=False).encode("latin-1")), {}, "token_malformed"),
    ("payload_array", lambda: raw_payload(b"[]"), {}, "token_malformed"),
    ("payload_string", lambda: raw_payload(b'"claims"'), {}, "token_malformed"),
    ("payload_number", lambda: raw_payload(b"1800000000"), {}, "token_malformed"),
    ("payload_null", lambda: raw_payload(b"null"), {}, "token_malformed"),
    ("payload_true", lambda: raw_payload(b"true"), {}, "token_malformed"),
    ("payload_empty", lambda: raw_payload(b""), {}, "token_malformed"),
    ("payload_trailing_garbage", lambda: raw_payload(json.dumps(service_claims()).encode() + b"x"), {}, "token_malformed"),
    ("payload_two_objects", lambda: raw_payload(b"{}{}"), {}, "token_malformed"),
    ("payload_deeply_nested", lambda: raw_payload(b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}"), {}, "token_malformed"),
    ("header_invalid_utf8", lambda: raw_header(b'{"alg":"RS256","kid":"\xff"}'), {}, "token_malformed"),
    ("header_array", lambda: raw_header(b'["RS256"]'), {}, "token_malformed"),
    ("header_not_json", lambda: raw_header(b"alg=RS256"), {}, "token_malformed"),
    ("header_empty", lambda: raw_header(b""), {}, "token_malformed"),
    # ECDSA signatures out of range (CVE-2022-21449 "psychic signatures") and wrong encodings
    ("ecdsa_r_s_zero", lambda: ecdsa_signature(bytes(64)), MULTI, "signature_invalid"),
    ("ecdsa_r_s_equal_order", lambda: ecdsa_signature(P256_ORDER.to_bytes(32, "big") * 2), MULTI, "signature_invalid"),
    ("ecdsa_r_above_order", lambda: ecdsa_signature((P256_ORDER + 1).to_bytes(32, "big") + (1).to_bytes(32, "big")), MULTI, "signature_invalid"),
    ("ecdsa_all_ones", lambda: ecdsa_signature(b"\xff" * 64), MULTI, "signature_invalid"),
    ("ecdsa_der_encoded", der_ecdsa, MULTI, "signature_invalid"),
    ("ecdsa_truncated", lambda: ecdsa_signature(bytes(range(63))), MULTI, "signature_invalid"),
    ("ecdsa_empty_signature", lambda: ecdsa_signature(b""), MULTI, "signature_invalid"),
    ("eddsa_zero_signature", lambda: mint(alg="EdDSA", key=keys().ed, kid="ed-1").rsplit(".", 1)[0] + "." + b64url_encode(bytes(64)), MULTI, "signature_invalid"),
    ("rsa_empty_signature", lambda: mint().rsplit(".", 1)[0] + ".", {}, "signature_invalid"),
    ("rsa_signature_of_other_payload", lambda: mint().rsplit(".", 1)[0] + "." + mint(service_claims(jti="other")).rsplit(".", 1)[1], {}, "signature_invalid"),
    ("rsa_signature_zero_padded", lambda: mint().rsplit(".", 1)[0] + "." + b64url_encode(b"\x00" + b64url_decode(mint().rsplit(".", 1)[1])), {}, "signature_invalid"),
    ("payload_changed_after_signing", lambda: (lambda t: t[0] + "." + segment(service_claims(azp="admin")) + "." + t[2])(mint().split(".")), {}, "signature_invalid"),
]


@pytest.mark.parametrize(("name", "build", "config", "code"), ROWS, ids=[r[0] for r in ROWS])
def test_attack_is_refused_with_exact_code(
    name: str, build: Callable[[], str], config: dict[str, Any], code: str
) -> None:
    v = verifier(**config)
    token = build()
    with pytest.raises(InvalidTokenError) as info:
        v.verify(token)
    assert info.value.code == code, info.value.message
    # Nothing of the token may show in the error.
    tail = token[-6:] if len(token) >= 6 else None
    if tail and tail.strip(".="):
        assert tail not in str(info.value) and tail not in repr(info.value)


def test_row_names_are_unique() -> None:
    names = [r[0] for r in ROWS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_control_valid_token_of_each_algorithm_is_accepted(alg: str) -> None:
    """The rows above can fail: the same builders with nothing wrong verify."""
    kid = default_kid(alg) if alg != "PS256" else "ps-1"
    jwks = keys().jwks()
    jwks["keys"].append(public_jwk(keys().rsa, kid="ps-1", alg="PS256", use="sig"))
    token = mint(alg=alg, key=realm_key(alg if alg != "PS256" else "RS256"), kid=kid)
    claims = verifier(algorithms=ALL_ALGS, jwks=jwks).verify(token)
    assert claims["azp"] == "shop-api"
    assert claims.alg == alg and claims.kid == kid


@pytest.mark.parametrize(("name", "claims"), [
    ("exp_one_second_inside_leeway", {"exp": int(NOW - LEEWAY) + 1}),
    ("nbf_at_leeway_edge", {"nbf": int(NOW + LEEWAY)}),
    ("iat_at_leeway_edge", {"iat": int(NOW + LEEWAY)}),
    ("exp_float", {"exp": NOW + 100.5}),
    ("audience_string", {"aud": AUDIENCE}),
    ("header_typ_at_jwt", None),
    ("no_kid_single_key", None),
])
def test_control_edges_that_must_still_verify(name: str, claims: dict[str, Any] | None) -> None:
    if name == "header_typ_at_jwt":
        token = mint(header={"typ": "at+jwt"})
    elif name == "no_kid_single_key":
        token = mint(kid=None)
    else:
        token = claims_token(**(claims or {}))
    assert verifier().verify(token)["iss"] == ISSUER


def test_noncanonical_builders_only_change_the_spelling() -> None:
    """Each non-canonical token decodes (leniently) to the same bytes a canonical one has."""
    _h, p = with_partial_quantum(0)
    lenient = base64.urlsafe_b64decode(with_trailing_bits(p) + "==")
    assert lenient == base64.urlsafe_b64decode(p + "==")
    assert with_trailing_bits(p) != p


def test_cached_verifier_gives_every_row_the_same_code_twice() -> None:
    """The verified-token cache must not turn a refusal into an acceptance on a second try."""
    cached = {}
    for name, build, config, code in ROWS:
        key = repr(sorted((k, repr(v)) for k, v in config.items()))
        if key not in cached:
            key_set = StaticKeySet(config.get("jwks", keys().jwks()), issuer=ISSUER)
            options = {k: v for k, v in config.items() if k != "jwks"}
            cached[key] = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=key_set, clock=clock,
                                   **{"algorithms": ("RS256",), **options})
        token = build()
        for attempt in (1, 2):
            with pytest.raises(InvalidTokenError) as info:
                cached[key].verify(token)
            assert info.value.code == code, (name, attempt, info.value.code)


def test_cached_token_is_refused_once_its_expiry_passes() -> None:
    now = [NOW]
    v = Verifier(issuer=ISSUER, audience=AUDIENCE, clock=lambda: now[0],
                 key_set=StaticKeySet(keys().jwks(), issuer=ISSUER))
    token = claims_token(exp=int(NOW) + 60)
    assert v.verify(token)["azp"] == "shop-api"
    assert v.cache is not None and len(v.cache) == 1
    now[0] = NOW + 60 + LEEWAY
    with pytest.raises(InvalidTokenError) as info:
        v.verify(token)
    assert info.value.code == "token_expired"


def test_token_accepted_inside_the_leeway_is_not_served_from_cache_later() -> None:
    now = [NOW]
    v = Verifier(issuer=ISSUER, audience=AUDIENCE, clock=lambda: now[0],
                 key_set=StaticKeySet(keys().jwks(), issuer=ISSUER))
    token = claims_token(exp=int(NOW) - 10)
    assert v.verify(token)["azp"] == "shop-api"
    now[0] = NOW + 25
    with pytest.raises(InvalidTokenError) as info:
        v.verify(token)
    assert info.value.code == "token_expired"
