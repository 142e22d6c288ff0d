"""The token and introspection endpoints' logic: form in, ``(status, json)`` out.

Pure apart from the issuer's key ring and the replay cache; the HTTP shell in
``_server`` only parses the request and writes the answer. Error answers and their order
follow Keycloak 26's ``TokenEndpoint`` and grant types (see docs/devidp.md).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..realm import profile_complete
from ._clientauth import AuthContext, authenticate_client, presented_client_id
from ._dpop import TokenEndpointDPoP, bound_claims
from ._exchange import TOKEN_EXCHANGE, token_exchange
from ._issuer import TokenIssuer
from ._oauth_error import OAuthError
from ._realm import Client
from ._tokens import Grant, invalid_scopes, token_scope

if TYPE_CHECKING:
    from ._browser import BrowserFlows

SUPPORTED_GRANTS = ("client_credentials", "password", "refresh_token", "authorization_code",
                    TOKEN_EXCHANGE)
"""Grants with Keycloak's behaviour here (``authorization_code`` only refuses: no codes)."""
KEYCLOAK_GRANTS = (
    "authorization_code", "implicit", "refresh_token", "password", "client_credentials",
    "urn:openid:params:grant-type:ciba", "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:uma-ticket",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
)
"""Grant types Keycloak knows. Those not in SUPPORTED_GRANTS pass client authentication
and then answer ``unsupported_grant_type`` here (Keycloak would run them)."""


@dataclass(frozen=True)
class Outcome:
    """An endpoint's answer, with what the log and the counters need."""

    status: int
    """HTTP status."""
    body: dict[str, Any] = field(repr=False)
    """JSON body (holds tokens: never log it)."""
    client_id: str | None = None
    """The client the request named, if any."""
    grant: str | None = None
    """The ``grant_type`` the request named, if any."""

    @property
    def error(self) -> str | None:
        """The RFC 6749 ``error`` of a failed request."""
        value = self.body.get("error")
        return value if isinstance(value, str) else None


def _check_scope(issuer: TokenIssuer, client: Client, requested: str) -> None:
    if invalid_scopes(issuer.realm, client, requested):
        raise OAuthError(400, "invalid_scope", f"Invalid scopes: {requested}")


def _client_credentials(issuer: TokenIssuer, ctx: AuthContext, client: Client,
                        form: Mapping[str, str], client_address: str,
                        jkt: str | None = None) -> dict[str, Any]:
    if client.public:
        raise OAuthError(401, "unauthorized_client",
                         "Public client not allowed to retrieve service account")
    if not client.service_accounts:
        raise OAuthError(401, "unauthorized_client",
                         "Client not enabled to retrieve service account")
    requested = form.get("scope", "")
    grant = issuer.service_grant(client, issuer=ctx.issuer, now=ctx.now,
                                 scope=token_scope(requested), client_address=client_address)
    if grant is None:
        raise OAuthError(401, "invalid_request",
                         "The associated service account for the client does not exist")
    _check_scope(issuer, client, requested)
    token, life = issuer.access_token(grant, extra_claims=bound_claims(jkt) if jkt else None)
    body: dict[str, Any] = {"access_token": token, "expires_in": life, "refresh_expires_in": 0,
                            "token_type": "DPoP" if jkt else "Bearer"}
    if grant.reached.openid:  # Keycloak 26.7.3 adds an ID token to client credentials
        body["id_token"] = issuer.id_token(grant, token, life)
    body.update({"not-before-policy": 0, "scope": grant.scope_claim})
    return body


def _password(issuer: TokenIssuer, ctx: AuthContext, client: Client,
              form: Mapping[str, str]) -> dict[str, Any]:
    if not client.direct_access:
        raise OAuthError(400, "unauthorized_client",
                         "Client not allowed for direct access grants")
    requested = form.get("scope", "")
    _check_scope(issuer, client, requested)
    username = (form.get("username") or "").lower()
    user = issuer.realm.users.get(username)
    password = form.get("password") or ""
    expected = user.password if user is not None else None
    # Compare even for an unknown user so that timing does not tell which part was wrong.
    ok = hmac.compare_digest(password.encode("utf-8"), (expected or "\0").encode("utf-8"))
    if user is None or expected is None or not ok or user.service_account_client:
        # 400 on Keycloak 26.7.3 (26.5.6 answered 401).
        raise OAuthError(400, "invalid_grant", "Invalid user credentials")
    if not user.enabled:
        raise OAuthError(400, "invalid_grant", "Account disabled")
    if not profile_complete(issuer.realm, user):
        raise OAuthError(400, "invalid_grant", "Account is not fully set up")
    grant = issuer.user_grant(client, user, issuer=ctx.issuer, now=ctx.now,
                              scope=token_scope(requested))
    return _user_tokens(issuer, grant, id_token="openid" in requested.split())


def _user_tokens(issuer: TokenIssuer, grant: Grant, *, id_token: bool) -> dict[str, Any]:
    if grant.offline_requested and not grant.offline:
        raise OAuthError(400, "not_allowed", "Offline tokens not allowed for the user or client")
    token, life = issuer.access_token(grant)
    refresh, refresh_life = issuer.refresh_token(grant)
    body: dict[str, Any] = {"access_token": token, "expires_in": life,
                            "refresh_expires_in": refresh_life, "refresh_token": refresh,
                            "token_type": "Bearer"}
    if id_token:
        body["id_token"] = issuer.id_token(grant, token, life)
    body.update({"not-before-policy": 0, "session_state": grant.session_id,
                 "scope": grant.scope_claim})
    return body


def _refresh(issuer: TokenIssuer, ctx: AuthContext, client: Client,
             form: Mapping[str, str], browser: BrowserFlows | None = None) -> dict[str, Any]:
    raw = form.get("refresh_token")
    if not raw:
        raise OAuthError(400, "invalid_request", "No refresh token")
    claims = issuer.keys.verify_hmac(raw)
    exp = claims.get("exp") if claims else None
    if claims is None or claims.get("typ") not in ("Refresh", "Offline") \
            or claims.get("iss") != ctx.issuer:
        raise OAuthError(400, "invalid_grant", "Invalid refresh token")
    offline_forever = claims.get("typ") == "Offline" and exp is None
    if not offline_forever and (not isinstance(exp, int | float) or exp <= ctx.now):
        raise OAuthError(400, "invalid_grant", "Invalid refresh token")
    if claims.get("azp") != client.client_id:
        raise OAuthError(400, "invalid_grant", "Unmatching clients")
    browser_body = browser.refresh(ctx, client, claims) if browser is not None else None
    if browser_body is not None:
        return browser_body
    user = issuer.realm.user_by_id(claims.get("sub"))
    if user is None or not user.enabled:
        raise OAuthError(400, "invalid_grant", "Invalid refresh token")
    scope = str(claims.get("scope", ""))
    grant = Grant(realm=issuer.realm, client=client, user=user, issuer=ctx.issuer,
                  now=int(ctx.now), scope=token_scope(scope),
                  session_id=str(claims.get("sid")) if claims.get("sid") else None)
    return _user_tokens(issuer, grant, id_token="openid" in scope.split())


def _authorization_code(form: Mapping[str, str]) -> dict[str, Any]:
    # This provider never issues codes: every code is unknown to it.
    if not form.get("code"):
        raise OAuthError(400, "invalid_request", "Missing parameter: code")
    raise OAuthError(400, "invalid_grant", "Code not valid")


def handle_token_request(issuer: TokenIssuer, ctx: AuthContext, form: Mapping[str, str],
                         authorization: str | None, client_address: str,
                         duplicated: bool = False, dpop: TokenEndpointDPoP | None = None,
                         dpop_proofs: list[str] | None = None,
                         audiences: tuple[str, ...] = (),
                         browser: BrowserFlows | None = None) -> Outcome:
    """Answer a token request (RFC 6749 §4.4 / §4.3, RFC 8693, with Keycloak's errors).

    ``duplicated`` says a form parameter appeared more than once (Keycloak refuses that
    after client authentication; ``audience`` may repeat in a token exchange, and
    ``audiences`` holds all its values). ``dpop`` checks the request's ``dpop_proofs``
    (RFC 9449) and binds client-credentials tokens to the proof key (see ``_dpop``).
    """
    grant_type = form.get("grant_type")
    named = presented_client_id(form, authorization)
    try:
        if not grant_type:
            raise OAuthError(400, "invalid_request", "Missing form parameter: grant_type")
        if grant_type not in KEYCLOAK_GRANTS:
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
        client = authenticate_client(ctx, form, authorization)
        if client.bearer_only:
            raise OAuthError(400, "invalid_client", "Bearer-only not allowed")
        if duplicated:
            raise OAuthError(400, "invalid_request", "duplicated parameter")
        jkt = (dpop.check(client, dpop_proofs or [], url=ctx.token_endpoint, now=ctx.now)
               if dpop is not None else None)
        if grant_type == "client_credentials":
            body = _client_credentials(issuer, ctx, client, form, client_address, jkt)
        elif grant_type == "password":
            body = _password(issuer, ctx, client, form)
        elif grant_type == "refresh_token":
            body = _refresh(issuer, ctx, client, form, browser)
        elif grant_type == "authorization_code" and browser is not None:
            body = browser.exchange_code(ctx, client, form)
        elif grant_type == "authorization_code":
            body = _authorization_code(form)
        elif grant_type == TOKEN_EXCHANGE:
            body = token_exchange(issuer, ctx.issuer, ctx.now, client, form, audiences, jkt)
        else:
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
    except OAuthError as err:
        return Outcome(err.status, err.body(), named, grant_type)
    return Outcome(200, body, client.client_id, grant_type)


INTROSPECTION_HINTS = ("access_token", "refresh_token", "requesting_party_token")


def handle_introspection(issuer: TokenIssuer, ctx: AuthContext, form: Mapping[str, str],
                         authorization: str | None, duplicated: bool = False) -> Outcome:
    """Answer an RFC 7662 introspection request (client authentication required).

    ``active`` is false for a token that is malformed, not signed by a published key,
    expired, from another issuer, not an access token, or whose ``aud`` does not name the
    introspecting client (Keycloak 26.6.2+).
    """
    named = presented_client_id(form, authorization)
    try:
        client = authenticate_client(ctx, form, authorization)
        if client.public:
            raise OAuthError(403, "invalid_request", "Client not allowed.")
        if duplicated:
            raise OAuthError(400, "invalid_request", "duplicated parameter")
        token = form.get("token")
        if not token:
            raise OAuthError(400, "invalid_request", "Token not provided.")
        if form.get("token_type_hint", "access_token") not in INTROSPECTION_HINTS:
            raise OAuthError(400, "invalid_request", "Unsupported token type.")
    except OAuthError as err:
        return Outcome(err.status, err.body(), named)
    claims = issuer.verified_claims(token, issuer=ctx.issuer, now=ctx.now)
    aud = claims.get("aud") if claims else None
    auds = aud if isinstance(aud, list) else [aud]
    if claims is None or claims.get("typ") != "Bearer" or client.client_id not in auds:
        return Outcome(200, {"active": False}, client.client_id)
    body = dict(claims)
    body.update({"client_id": claims.get("azp"), "username": claims.get("preferred_username"),
                 "token_type": "Bearer", "active": True})
    return Outcome(200, body, client.client_id)
