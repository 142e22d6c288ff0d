"""Refusal texts, in one place (pure data): the seed's JSON body messages, the message each
policy refusal carries, and the fixed ``error_description`` per code.

``ForbiddenError`` messages raised by the policies are these texts, and ``refusal_for``
answers with them; nothing else spells a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DESCRIPTIONS", "DPOP_NONCE_REQUIRED", "FORBIDDEN", "FORBIDDEN_MESSAGES",
    "GENERIC_DESCRIPTION", "INSUFFICIENT_SCOPE", "INVALID_DPOP_PROOF", "INVALID_REQUEST",
    "INVALID_TOKEN", "NOT_SERVICE_ACCOUNT", "NOT_USER_TOKEN", "NO_TOKEN", "TOKEN_EXPIRED",
    "UNAUTHORIZED_CLIENT", "UNAUTHORIZED_SERVICE", "UNAVAILABLE",
]

NO_TOKEN = "No token provided"
TOKEN_EXPIRED = "Token expired"
INVALID_TOKEN = "Invalid token"
INVALID_REQUEST = "Invalid request"
NOT_SERVICE_ACCOUNT = "This endpoint only accepts service account tokens"
UNAUTHORIZED_SERVICE = "Unauthorized service"
NOT_USER_TOKEN = "This endpoint only accepts user tokens"
UNAUTHORIZED_CLIENT = "Unauthorized client"
INSUFFICIENT_SCOPE = "Insufficient scope"
FORBIDDEN = "Forbidden"
UNAVAILABLE = "Authentication temporarily unavailable"
INVALID_DPOP_PROOF = "Invalid DPoP proof"
DPOP_NONCE_REQUIRED = "DPoP nonce required"

FORBIDDEN_MESSAGES: Mapping[str, str] = {
    "not_service_account": NOT_SERVICE_ACCOUNT,
    "not_user_token": NOT_USER_TOKEN,
    "unauthorized_client": UNAUTHORIZED_CLIENT,
    "unauthorized_service": UNAUTHORIZED_SERVICE,
    "insufficient_scope": INSUFFICIENT_SCOPE,
}

# Fixed, safe error_description text per code; anything unlisted gets the generic line.
DESCRIPTIONS: Mapping[str, str] = {
    "token_expired": "The access token expired",
    "token_not_yet_valid": "The access token is not valid yet",
    "iat_in_future": "The access token was issued in the future",
    "signature_invalid": "The access token signature is invalid",
    "key_not_found": "The access token was signed by an unknown key",
    "alg_not_allowed": "The access token algorithm is not accepted",
    "issuer_mismatch": "The access token was issued by another issuer",
    "audience_mismatch": "The access token is meant for another audience",
    "token_type_invalid": "The token is not an access token",
    "token_too_large": "The access token is too large",
    "token_malformed": "The access token is malformed",
    "token_inactive": "The access token is no longer active",
    "header_invalid": "The access token header is invalid",
    "crit_unsupported": "The access token uses an unsupported critical extension",
    "claim_invalid": "The access token has an invalid claim",
    "authorization_repeated": "Several Authorization headers were sent",
    "authorization_malformed": "The Authorization header is malformed",
    "credentials_multiple": "Several credentials were sent",
    "insufficient_scope": "The access token lacks a required role or scope",
    "dpop_bound_token": "The access token is DPoP-bound and needs the DPoP scheme",
    "dpop_binding_missing": "The access token is not DPoP-bound",
    "dpop_proof_missing": "The DPoP proof is missing",
    "dpop_proof_repeated": "Several DPoP proofs were sent",
    "dpop_proof_malformed": "The DPoP proof is malformed",
    "dpop_claims_invalid": "The DPoP proof lacks a required claim",
    "dpop_jwk_missing": "The DPoP proof carries no key",
    "dpop_typ_invalid": "The DPoP proof type is not dpop+jwt",
    "dpop_alg_not_allowed": "The DPoP proof algorithm is not accepted",
    "dpop_jwk_invalid": "The DPoP proof key is invalid",
    "dpop_jwk_private": "The DPoP proof carries a private key",
    "dpop_signature_invalid": "The DPoP proof signature is invalid",
    "dpop_htm_mismatch": "The DPoP proof is for another HTTP method",
    "dpop_htu_mismatch": "The DPoP proof is for another URL",
    "dpop_iat_stale": "The DPoP proof is too old",
    "dpop_iat_future": "The DPoP proof was issued in the future",
    "dpop_replayed": "The DPoP proof was already used",
    "dpop_ath_mismatch": "The DPoP proof is for another access token",
    "dpop_jkt_mismatch": "The DPoP proof key is not the key the token is bound to",
    "use_dpop_nonce": "The DPoP proof needs the server nonce",
}
GENERIC_DESCRIPTION = "The access token is invalid"
