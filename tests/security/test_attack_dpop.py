"""DPoP rows of the attack table (RFC 9449): each a request a careless receiver would
accept, each refused with its exact code, status and ``WWW-Authenticate`` error.

The guard requires DPoP unless the row says otherwise; the clock is injected (``NOW``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from attack_kit import NOW
from dpop_kit import (
    METHOD,
    URL,
    access_token,
    caller_key,
    guard,
    other_key,
    proof,
    request,
)

from svcauth import AuthError
from svcauth._jwk import public_jwk
from svcauth.receiver import RequestInfo, refusal_for

Attempt = tuple[str, RequestInfo]


def _bound() -> str:
    return access_token(caller_key().jkt)


def _dpop(token: str, *proofs: str, method: str = METHOD, url: str = URL) -> Attempt:
    return f"DPoP {token}", request(list(proofs), method, url)


def _signed_proof(**kw: object) -> Callable[[], Attempt]:
    def build() -> Attempt:
        token = _bound()
        return _dpop(token, proof(token=token, **kw))  # type: ignore[arg-type]
    return build


def _private_jwk() -> Attempt:
    token = _bound()
    jwk = dict(caller_key().jwk)
    jwk["d"] = "AAAA"
    return _dpop(token, proof(token=token, header={"jwk": jwk}))


def _other_signer() -> Attempt:
    # Header names the caller's key, the signature is by another key.
    token = _bound()
    return _dpop(token, proof(token=token, signer=other_key()))


def _other_key_bound() -> Attempt:
    # A perfectly valid proof by another key: the token is bound to the caller's key.
    token = _bound()
    return _dpop(token, proof(other_key(), token=token))


def _as_bearer() -> Attempt:
    return f"Bearer {_bound()}", request([])


def _no_proof() -> Attempt:
    return f"DPoP {_bound()}", request([])


def _bearer_where_required() -> Attempt:
    return f"Bearer {access_token()}", request([])


def _unbound_as_dpop() -> Attempt:
    token = access_token()
    return _dpop(token, proof(token=token))


def _two_proofs() -> Attempt:
    token = _bound()
    return _dpop(token, proof(token=token), proof(token=token))


def _wrong_ath() -> Attempt:
    token = _bound()
    return _dpop(token, proof(token=access_token(caller_key().jkt, jti="another")))


def _no_ath() -> Attempt:
    token = _bound()
    return _dpop(token, proof())


def _rsa_jwk_for_es256() -> Attempt:
    from cryptography.hazmat.primitives.asymmetric import rsa

    token = _bound()
    jwk = public_jwk(rsa.generate_private_key(65537, 2048))
    jwk.pop("kid")
    return _dpop(token, proof(token=token, header={"jwk": jwk}))


@dataclass(frozen=True)
class Row:
    name: str
    build: Callable[[], Attempt]
    code: str
    error: str | None  # the WWW-Authenticate error parameter
    mode: str = "required"


ROWS = [
    Row("proof for another URL", _signed_proof(url="https://payments.example/refunds"),
        "dpop_htu_mismatch", "invalid_dpop_proof"),
    Row("proof for another host", _signed_proof(url="https://evil.example/charges"),
        "dpop_htu_mismatch", "invalid_dpop_proof"),
    Row("proof for another method", _signed_proof(method="GET"),
        "dpop_htm_mismatch", "invalid_dpop_proof"),
    Row("stale iat", _signed_proof(claims={"iat": NOW - 61}), "dpop_iat_stale",
        "invalid_dpop_proof"),
    Row("future iat", _signed_proof(claims={"iat": NOW + 6}), "dpop_iat_future",
        "invalid_dpop_proof"),
    Row("wrong ath", _wrong_ath, "dpop_ath_mismatch", "invalid_dpop_proof"),
    Row("no ath", _no_ath, "dpop_ath_mismatch", "invalid_dpop_proof"),
    Row("proof key is not cnf.jkt", _other_key_bound, "dpop_jkt_mismatch",
        "invalid_dpop_proof"),
    Row("jwk with private parts", _private_jwk, "dpop_jwk_private", "invalid_dpop_proof"),
    Row("HS256 proof", _signed_proof(header={"alg": "HS256"}), "dpop_alg_not_allowed",
        "invalid_dpop_proof"),
    Row("alg none", _signed_proof(header={"alg": "none"}), "dpop_alg_not_allowed",
        "invalid_dpop_proof"),
    Row("typ JWT", _signed_proof(header={"typ": "JWT"}), "dpop_typ_invalid",
        "invalid_dpop_proof"),
    Row("no jwk", _signed_proof(header={"jwk": None}), "dpop_jwk_missing",
        "invalid_dpop_proof"),
    Row("RSA jwk for ES256", _rsa_jwk_for_es256, "dpop_jwk_invalid", "invalid_dpop_proof"),
    Row("signed by another key than its jwk", _other_signer, "dpop_signature_invalid",
        "invalid_dpop_proof"),
    Row("missing jti", _signed_proof(drop=("jti",)), "dpop_claims_invalid",
        "invalid_dpop_proof"),
    Row("boolean iat", _signed_proof(claims={"iat": True}), "dpop_claims_invalid",
        "invalid_dpop_proof"),
    Row("missing proof with DPoP required", _no_proof, "dpop_proof_missing",
        "invalid_dpop_proof"),
    Row("two proofs", _two_proofs, "dpop_proof_repeated", "invalid_dpop_proof"),
    Row("not a JWS", lambda: _dpop(_bound(), "not.a-proof"), "dpop_proof_malformed",
        "invalid_dpop_proof"),
    Row("DPoP token sent as Bearer", _as_bearer, "dpop_bound_token", "invalid_token",
        mode="allowed"),
    Row("DPoP token sent as Bearer where DPoP is off", _as_bearer, "dpop_bound_token",
        "invalid_token", mode="off"),
    Row("Bearer where DPoP is required", _bearer_where_required, "dpop_required", None),
    Row("unbound token sent as DPoP", _unbound_as_dpop, "dpop_binding_missing",
        "invalid_token"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_dpop_attack_is_refused_with_its_code(row: Row) -> None:
    g = guard(row.mode)
    authorization, info = row.build()
    with pytest.raises(AuthError) as caught:
        g.authenticate([authorization], request=info)
    assert caught.value.code == row.code
    refusal = refusal_for(caught.value, realm="techstore", dpop=g.dpop)
    assert refusal.status == 401
    challenge = refusal.header("WWW-Authenticate") or ""
    if row.error is None:
        assert 'error="' not in challenge
    else:
        assert f'error="{row.error}"' in challenge
    if g.dpop is not None:
        assert 'algs="ES256 EdDSA PS256 RS256"' in challenge


def test_replayed_proof_is_refused_the_second_time() -> None:
    g = guard()
    token = _bound()
    authorization, info = _dpop(token, proof(token=token))
    assert g.authenticate([authorization], request=info).client_id == "shop-api"
    with pytest.raises(AuthError) as caught:
        g.authenticate([authorization], request=info)
    assert caught.value.code == "dpop_replayed"


def test_a_cached_token_still_needs_a_valid_proof_every_time() -> None:
    g = guard()
    token = _bound()
    authorization, info = _dpop(token, proof(token=token))
    g.authenticate([authorization], request=info)
    assert g.verifier.cache is not None and len(g.verifier.cache) == 1  # type: ignore[attr-defined]
    for bad, code in ((request([]), "dpop_proof_missing"),
                      (request([proof(token=token, method="GET")]), "dpop_htm_mismatch")):
        with pytest.raises(AuthError) as caught:
            g.authenticate([authorization], request=bad)
        assert caught.value.code == code


def test_token_verified_for_dpop_is_no_cache_hit_as_bearer() -> None:
    g = guard("allowed")
    token = _bound()
    authorization, info = _dpop(token, proof(token=token))
    g.authenticate([authorization], request=info)
    with pytest.raises(AuthError) as caught:
        g.authenticate([f"Bearer {token}"], request=request([]))
    assert caught.value.code == "dpop_bound_token"
