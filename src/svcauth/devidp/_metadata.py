"""The OpenID Provider metadata (discovery document) as Keycloak 26 serves it, limited to
what this provider implements plus Keycloak's advertised lists (see docs/devidp.md)."""

from __future__ import annotations

from typing import Any

from ._grants import KEYCLOAK_GRANTS

AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post",
                "tls_client_auth", "client_secret_jwt")
"""``token_endpoint_auth_methods_supported`` as Keycloak lists it (first three work here)."""


def discovery_document(issuer: str) -> dict[str, Any]:
    """``/.well-known/openid-configuration`` for ``issuer``."""
    oidc = f"{issuer}/protocol/openid-connect"
    sig_algs = ["PS384", "RS384", "EdDSA", "ES384", "ES256", "RS256", "ES512", "PS256",
                "PS512", "RS512"]
    client_algs = [*sig_algs, "HS256", "HS512", "HS384"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{oidc}/auth",
        "token_endpoint": f"{oidc}/token",
        "introspection_endpoint": f"{oidc}/token/introspect",
        "userinfo_endpoint": f"{oidc}/userinfo",
        "end_session_endpoint": f"{oidc}/logout",
        "jwks_uri": f"{oidc}/certs",
        "grant_types_supported": list(KEYCLOAK_GRANTS),
        "response_types_supported": ["code", "none", "id_token", "token", "id_token token",
                                     "code id_token", "code token", "code id_token token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": sig_algs,
        "userinfo_signing_alg_values_supported": [*sig_algs, "none"],
        "scopes_supported": ["openid", "acr", "basic", "email", "profile", "roles",
                             "web-origins", "address", "phone", "offline_access",
                             "microprofile-jwt", "organization", "service_account"],
        "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name",
                             "family_name", "preferred_username", "email", "acr", "azp"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": client_algs,
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_signing_alg_values_supported": client_algs,
        "revocation_endpoint": f"{oidc}/revoke",
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["plain", "S256"],
        "tls_client_certificate_bound_access_tokens": True,
        # The browser flow (devidp/_browser.py).
        "check_session_iframe": f"{oidc}/login-status-iframe.html",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "authorization_response_iss_parameter_supported": True,
    }
