"""DPoP at the token endpoint, as Keycloak 26 does it (``DPoPUtil``).

A client whose realm-file attribute ``dpop.bound.access.tokens`` is ``"true"`` ("Require
DPoP bound tokens") must send a proof; any client that sends one gets its access token bound:
``token_type: DPoP`` in the answer, ``cnf: {"jkt": <thumbprint>, "kc-jkt-type": "DPoP"}``
and ``typ: "DPoP"`` in the token. A bad proof is ``400 invalid_request`` with Keycloak's own
description (checked against Keycloak 26.7.3 in tests/keycloak/test_kc_dpop.py). Proofs live
10 s with 15 s of clock skew either way (Keycloak's defaults); Keycloak asks for no server
nonce. The proof checks themselves are svcauth's receiver ones
(:mod:`svcauth.receiver._dpop`); only the answers are Keycloak's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._errors import InvalidDPoPProofError
from .._jws import ALGORITHMS, b64url_decode
from ..receiver._dpop import DPoPSettings, ReplayCache, verify_proof
from ._oauth_error import OAuthError
from ._realm import Client

__all__ = ["REQUIRE_ATTRIBUTE", "TokenEndpointDPoP", "bound_claims"]

REQUIRE_ATTRIBUTE = "dpop.bound.access.tokens"
"""The client attribute behind "Require DPoP bound tokens"."""
PROOF_LIFETIME = 10
CLOCK_SKEW = 15

# Keycloak's VerificationException texts, by svcauth code.
_MESSAGES = {
    "dpop_proof_missing": "DPoP proof is missing",
    "dpop_proof_malformed": "DPoP header verification failure",
    "dpop_jwk_missing": "No JWK in DPoP header",
    "dpop_jwk_invalid": "Unsupported key type in DPoP header",
    "dpop_jwk_private": "Private key material must not be present in DPoP JWK",
    "dpop_signature_invalid": "DPoP verification failure: Invalid token signature",
    "dpop_claims_invalid": "DPoP mandatory claims are missing",
    "dpop_htu_mismatch": "DPoP HTTP URL mismatch",
    "dpop_htm_mismatch": "DPoP HTTP method mismatch",
    "dpop_iat_stale": "DPoP proof is not active",
    "dpop_iat_future": "DPoP proof is not active",
    "dpop_replayed": "DPoP proof has already been used",
}


def _header_value(proof: str, name: str) -> str:
    try:
        header = json.loads(b64url_decode(proof.split(".", 1)[0]))
        value = header.get(name) if isinstance(header, dict) else None
    except ValueError:
        value = None
    return "null" if value is None else str(value)


def bound_claims(jkt: str) -> dict[str, Any]:
    """What binding adds to the access token."""
    # Keycloak 26.7.3 adds its own "kc-jkt-type" member to cnf (seen on the real server).
    return {"cnf": {"jkt": jkt, "kc-jkt-type": "DPoP"}, "typ": "DPoP"}


class TokenEndpointDPoP:
    """The token endpoint's proof check; one per provider (it holds the replay cache)."""

    def __init__(self) -> None:
        self.replay = ReplayCache(maxsize=50_000)

    def check(self, client: Client, proofs: list[str], *, url: str, now: float) -> str | None:
        """The proof key's thumbprint when a proof came (and is valid), ``None`` when none
        came and the client does not require one; else :class:`OAuthError` as Keycloak."""
        required = client.attributes.get(REQUIRE_ATTRIBUTE, "").strip().lower() == "true"
        if not proofs:
            if required:
                raise OAuthError(400, "invalid_request", _MESSAGES["dpop_proof_missing"])
            return None
        proof = proofs[0]
        settings = DPoPSettings(mode="required", algorithms=tuple(sorted(ALGORITHMS)),
                                max_age=PROOF_LIFETIME + CLOCK_SKEW, leeway=CLOCK_SKEW,
                                replay=self.replay, clock=lambda: now)
        try:
            verified = verify_proof(proof, method="POST", url=url, access_token=None,
                                    settings=settings)
        except InvalidDPoPProofError as exc:
            if exc.code == "dpop_typ_invalid":
                text = f"Invalid or missing type in DPoP header: {_header_value(proof, 'typ')}"
            elif exc.code == "dpop_alg_not_allowed":
                text = f"Unsupported DPoP algorithm: {_header_value(proof, 'alg')}"
            else:
                text = _MESSAGES.get(exc.code, "DPoP header verification failure")
            raise OAuthError(400, "invalid_request", text) from None
        return verified.jkt


def proofs_of(headers: Mapping[str, str]) -> list[str]:
    """The request's ``DPoP`` header (the server's header map keeps one value per name)."""
    value = next((v for k, v in headers.items() if k.lower() == "dpop"), None)
    return [value] if value else []
