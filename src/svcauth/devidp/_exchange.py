"""Keycloak 26's standard token exchange (RFC 8693, "token exchange v2") for the dev IdP.

Pure, as the other grants: the form and the authenticated client in, the JSON body out or
an :class:`OAuthError` with Keycloak's status, ``error`` and ``error_description``. The
checks run in the order of Keycloak's ``StandardTokenExchangeProvider``:

1. the provider must *support* the request: no ``requested_subject``, ``requested_issuer``
   or ``subject_issuer``; the client has "Standard token exchange" on (attribute
   ``standard.token.exchange.enabled``); ``subject_token`` and ``subject_token_type`` are
   present and the type is an access token;
2. the subject token is a valid access token of this realm;
3. the requested token type is an access token, an ID token, or a refresh token when the
   client has "Allow refresh token in Standard Token Exchange"
   (``standard.token.exchange.enableRefreshRequestedTokenType`` ``SAME_SESSION``) and the
   subject has a user session;
4. every ``audience`` is a client of the realm; the requester is confidential; it is the
   subject token's ``azp`` or is in its ``aud``;
5. ``scope`` names scopes the requester may have;
6. the new token is the requester's token for the subject's user, its ``aud`` and client
   roles narrowed to the requested audiences; an audience the token would not carry is
   refused ("never widens").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ._browser_tokens import _insert_after
from ._dpop import bound_claims
from ._issuer import TokenIssuer
from ._oauth_error import OAuthError
from ._realm import Client
from ._tokens import (
    Grant,
    access_token_claims,
    id_token_claims,
    invalid_scopes,
    refresh_token_claims,
    token_scope,
)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
"""The grant type."""
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
"""The one subject token type standard token exchange accepts."""
REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"
"""A requested token type accepted only when the client allows it."""
STANDARD_EXCHANGE_ATTRIBUTE = "standard.token.exchange.enabled"
"""The client switch "Standard token exchange" in realm files."""
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
"""A requested token type: the ID token comes back in ``access_token``, ``token_type N_A``."""
REFRESH_ATTRIBUTE = "standard.token.exchange.enableRefreshRequestedTokenType"
""""Allow refresh token in Standard Token Exchange": ``NO`` (default) or ``SAME_SESSION``."""
JTI_PREFIX_SAME_CLIENT = "onrtte:"
"""``jti`` prefix seen on 26.7.3 when the requester is the subject token's own client."""
JTI_PREFIX_OTHER_CLIENT = "ntrtte:"
"""``jti`` prefix seen when another client's user token is exchanged."""
JTI_PREFIX_NO_SESSION = "trrtte:"
"""``jti`` prefix seen when the subject has no user session (a service-account token)."""
SERVICE_ACCOUNT_CLAIMS = ("clientHost", "clientAddress", "client_id")
"""Claims of the ``service_account`` scope that a token exchange does not write (they come
from notes of a client-credentials session)."""

_UNSUPPORTED_PARAMETERS = (
    ("requested_subject", "Parameter 'requested_subject' is not supported for standard token exchange"),
    ("requested_issuer", "Parameter 'requested_issuer' is not supported for standard token exchange"),
    ("subject_issuer", "Parameter 'subject_issuer' is not supported for standard token exchange"),
)


def _unsupported(reason: str) -> OAuthError:
    # No token-exchange provider takes the request: Keycloak answers with the reason the
    # standard provider gave.
    return OAuthError(400, "invalid_request", reason)


def _supports(client: Client, form: Mapping[str, str]) -> None:
    for name, reason in _UNSUPPORTED_PARAMETERS:
        if form.get(name) is not None:
            raise _unsupported(reason)
    if client.attributes.get(STANDARD_EXCHANGE_ATTRIBUTE, "").lower() != "true":
        raise _unsupported("Standard token exchange is not enabled for the requested client")
    if form.get("subject_token") is None:
        raise _unsupported("Parameter 'subject_token' required for standard token exchange")
    subject_type = form.get("subject_token_type")
    if subject_type is None:
        raise _unsupported("Parameter 'subject_token_type' required for standard token exchange")
    if subject_type != ACCESS_TOKEN_TYPE:
        raise _unsupported("Parameter 'subject_token' supports access tokens only")


def _audiences(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def _narrow(claims: dict[str, Any], audiences: Sequence[str]) -> None:
    """Keep only the requested audiences in ``aud`` and ``resource_access``."""
    available = _audiences(claims)
    missing = [a for a in audiences if a not in available]
    if missing:
        raise OAuthError(400, "invalid_request",
                         "Requested audience not available: " + ", ".join(missing))
    kept = [a for a in available if a in audiences]
    claims["aud"] = kept[0] if len(kept) == 1 else kept
    access = claims.get("resource_access")
    if isinstance(access, dict):
        narrowed = {c: r for c, r in access.items() if c in audiences}
        if narrowed:
            claims["resource_access"] = narrowed
        else:
            del claims["resource_access"]


def token_exchange(issuer: TokenIssuer, ctx_issuer: str, now: float, client: Client,
                   form: Mapping[str, str], audiences: Sequence[str],
                   jkt: str | None = None) -> dict[str, Any]:
    """Answer a standard token exchange of ``client`` (already authenticated).

    ``audiences`` are every ``audience`` value of the form (the parameter may repeat).
    ``jkt``: the thumbprint of a valid DPoP proof sent with the request; the issued access
    token is then bound to it (``cnf.jkt``, ``token_type: DPoP``), as Keycloak 26.7.3 binds
    an exchanged token when the exchange request carries a proof.
    """
    _supports(client, form)
    subject = issuer.verified_claims(form["subject_token"], issuer=ctx_issuer, now=now)
    if subject is None or subject.get("typ") != "Bearer":
        raise OAuthError(400, "invalid_request", "Invalid token")
    user = next((u for u in issuer.realm.users.values() if u.id == subject.get("sub")), None)
    if user is None or not user.enabled:
        raise OAuthError(400, "invalid_request", "Invalid token")
    requested_type = _requested_type(client, form)
    for name in audiences:
        target = issuer.realm.clients.get(name)
        if target is None:
            raise OAuthError(400, "invalid_client", "Audience not found")
    if client.public:
        raise OAuthError(400, "invalid_client", "Public client is not allowed to exchange token")
    for name in audiences:
        if not issuer.realm.clients[name].enabled:
            raise OAuthError(400, "invalid_client", "Client disabled")
    if subject.get("azp") != client.client_id and client.client_id not in _audiences(subject):
        raise OAuthError(403, "access_denied", "Client is not within the token audience")
    requested = form.get("scope", "")
    if invalid_scopes(issuer.realm, client, requested):
        raise OAuthError(400, "invalid_scope", f"Invalid scopes: {requested}")
    sid = subject.get("sid")
    session = sid if isinstance(sid, str) else None
    if requested_type == REFRESH_TOKEN_TYPE and session is None:
        raise OAuthError(400, "invalid_request", "Refresh token not valid as requested_token_type"
                         " because creating a new session is needed")
    # The requester's own user token: Keycloak reuses its client session, scope included.
    same_client = subject.get("azp") == client.client_id
    kept = subject.get("scope") if same_client and session is not None else None
    words = f"{kept} {requested}" if isinstance(kept, str) else requested
    grant = Grant(realm=issuer.realm, client=client, user=user, issuer=ctx_issuer,
                  now=int(now), scope=token_scope(words), session_id=session)
    life = client.token_lifespan(issuer.realm.access_token_lifespan)
    prefix = (JTI_PREFIX_NO_SESSION if session is None else JTI_PREFIX_SAME_CLIENT
              if same_client else JTI_PREFIX_OTHER_CLIENT)
    claims = access_token_claims(grant, lifetime=life, jti=f"{prefix}{uuid.uuid4()}")
    # A subject from a browser login carries its session's auth_time: Keycloak 26.7.3 puts
    # it on the exchanged tokens too (after iat), a password-grant subject has none.
    auth_time = subject.get("auth_time")
    auth_time = auth_time if isinstance(auth_time, int) else None
    if auth_time is not None:
        claims = _insert_after(claims, "iat", "auth_time", auth_time)
    for name in SERVICE_ACCOUNT_CLAIMS:
        claims.pop(name, None)
    if audiences:
        _narrow(claims, audiences)
    if jkt is not None and requested_type != ID_TOKEN_TYPE:
        claims.update(bound_claims(jkt))
    token = issuer.keys.sign(claims)
    body = _body(issuer, grant, token, life, requested_type,
                 id_token="openid" in requested.split(), auth_time=auth_time)
    if jkt is not None and requested_type != ID_TOKEN_TYPE:
        body["token_type"] = "DPoP"
    return body


def _requested_type(client: Client, form: Mapping[str, str]) -> str:
    requested = form.get("requested_token_type") or ACCESS_TOKEN_TYPE
    if requested in (ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE):
        return requested
    if (requested == REFRESH_TOKEN_TYPE
            and client.attributes.get("use.refresh.tokens", "true").lower() != "false"
            and client.attributes.get(REFRESH_ATTRIBUTE, "NO") not in ("", "NO")):
        return requested
    raise OAuthError(400, "invalid_request", "requested_token_type unsupported")


def _body(issuer: TokenIssuer, grant: Grant, token: str, life: int,
          requested_type: str, *, id_token: bool, auth_time: int | None = None) -> dict[str, Any]:
    """The answer, fields in Keycloak's order; ``id_token`` when the request's own
    ``scope`` named ``openid``; ``auth_time`` (the subject's) on its ID tokens."""
    body: dict[str, Any] = {"access_token": token, "expires_in": life, "refresh_expires_in": 0}
    if requested_type == ID_TOKEN_TYPE:
        id_claims = id_token_claims(grant, lifetime=life, access_token=token)
        id_claims.pop("at_hash")  # no access token goes with it
        if auth_time is not None:
            id_claims = _insert_after(id_claims, "iat", "auth_time", auth_time)
        body["access_token"] = issuer.keys.sign(id_claims)
    if requested_type == REFRESH_TOKEN_TYPE:
        life_rt = issuer.realm.sso_session_idle
        rt_claims = refresh_token_claims(grant, lifetime=life_rt)
        if grant.client.service_accounts and \
                "service_account" not in rt_claims["scope"].split():
            # Keycloak gives such a client the service_account scope, named in the refresh
            # token's scope (seen on 26.7.3).
            rt_claims["scope"] = f"{rt_claims['scope']} service_account"
        body["refresh_token"], body["refresh_expires_in"] = issuer.keys.sign_hmac(rt_claims), life_rt
    body["token_type"] = "N_A" if requested_type == ID_TOKEN_TYPE else "Bearer"
    if requested_type != ID_TOKEN_TYPE and id_token:
        plain = id_token_claims(grant, lifetime=life, access_token=token)
        body["id_token"] = issuer.keys.sign(
            plain if auth_time is None else _insert_after(plain, "iat", "auth_time", auth_time))
    body["not-before-policy"] = 0
    if grant.session_id is not None:
        body["session_state"] = grant.session_id
    body.update({"scope": grant.scope_claim, "issued_token_type": requested_type})
    return body
