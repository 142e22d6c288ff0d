"""The seed's checklist of service-to-service mistakes, as a linter over a realm-import file.

Pure code: ``lint_realm(realm) -> list[Finding]`` on a :class:`RealmFile` loaded with its
placeholders kept. Each finding names a rule id, the severity, the subject (a client id, a
``user <name>`` or ``realm``) and the field, so the fix is one edit away. Rules:

==================================  ========  =============================================
rule id                             severity  finding
==================================  ========  =============================================
service-account-standard-flow       error     service-account client with the browser flow on
service-account-implicit-flow       error     ... with the implicit flow on
service-account-direct-grants       error     ... with direct access (password) grants on
public-service-account              error     public client with a service account
literal-secret                      error     a secret or password not one bare ``${ENV}``
token-lifespan                      error     service client's access tokens live over 15 min
refresh-token-client-credentials    error     client_credentials.use_refresh_token is "true"
audience-missing                    error     a caller's tokens would not carry its receiver
audience-unknown-client             error     an audience mapper names no client of the file
client-scopes-dropped               error     a ``clientScopes`` array drops built-in scopes
wildcard-redirect                   error     a redirect URI with ``*``
password-grant                      warning   a non-service client with direct access grants
service-account-scope-missing       warning   ``defaultClientScopes`` without service_account
devidp-unsupported (``--devidp``)   warning   something the embedded dev IdP does not emulate
==================================  ========  =============================================

The audience rule, and why it is sound for what the file can show. A receiver X appears in a
token's ``aud`` by two routes only: (a) the caller's service account holds a client role of X
and the ``roles`` client scope (home of Keycloak's "audience resolve" mapper) reaches the
token, or (b) the caller has an ``oidc-audience-mapper`` naming X whose ``access.token.claim``
is ``"true"`` (absent adds nothing on 26.7.3). A client C is a *caller* of X when the file
links them: C's service account holds a role of X, or C carries an audience mapper naming X.
For every such pair the linter checks that route (a) or (b) is effective: route (a) fails
when C gives ``defaultClientScopes`` without ``roles`` (or the realm's ``clientScopes`` array drops
``roles``); route (b) fails when the mapper's ``access.token.claim`` is not ``"true"``. A caller
known only outside the file (a receiver's ``allowed_clients``) holds none of X's roles and has no
mapper, so its tokens never carry X: the file cannot show that link, so it is not reported
here; ``svcauth doctor`` checks it live.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .._placeholders import PLACEHOLDER
from ._realm import RealmClient, RealmFile

ERROR = "error"
WARNING = "warning"
MAX_SERVICE_TOKEN_LIFESPAN = 900
"""15 minutes: the longest access-token life the checklist allows for service clients."""

BUILTIN_SCOPES = ("acr", "basic", "email", "profile", "roles", "service_account", "web-origins")
"""Keycloak's built-in client scopes a service token relies on (``basic`` holds ``sub``,
``roles`` the audience resolve, ``service_account`` the ``client_id`` claim)."""


@dataclass(frozen=True, order=True)
class Finding:
    """One broken checklist item."""

    subject: str
    """A client id, ``user <username>`` or ``realm``."""
    field: str
    """The field to fix, e.g. ``directAccessGrantsEnabled`` or ``attributes.access.token.lifespan``."""
    rule: str
    """The stable rule id (see the module docstring)."""
    severity: str
    """``error`` or ``warning``."""
    message: str
    """What was expected and what was found (never a secret value)."""

    def line(self) -> str:
        """``error [rule] subject: field: message``."""
        return f"{self.severity} [{self.rule}] {self.subject}: {self.field}: {self.message}"


def _flows(client: RealmClient) -> Iterator[Finding]:
    model = client.model  # flags as Keycloak reads them (standardFlowEnabled absent: on)
    if client.service_account:
        for on, flag, rule, what in (
            (model.standard_flow, "standardFlowEnabled", "service-account-standard-flow",
             "the browser (standard) flow"),
            (model.implicit_flow, "implicitFlowEnabled", "service-account-implicit-flow",
             "the implicit flow"),
            (model.direct_access, "directAccessGrantsEnabled", "service-account-direct-grants",
             "direct access (password) grants"),
        ):
            if on:
                yield Finding(client.client_id, flag, rule, ERROR,
                              f"expected false for a service-account client, found {what} on")
        if client.public:
            yield Finding(client.client_id, "publicClient", "public-service-account", ERROR,
                          "expected a confidential client for a service account, found a public one")
    elif model.direct_access:
        yield Finding(client.client_id, "directAccessGrantsEnabled", "password-grant", WARNING,
                      "direct access (password) grants are on: keep them for demos only")


def _literal(value: object) -> str | None:
    """Why ``value`` is a literal secret, or None when it is exactly one bare placeholder."""
    match = PLACEHOLDER.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return "expected an ${ENV} placeholder, found a literal value"
    if match.group(2) is not None:
        return "expected an ${ENV} placeholder without a default, found a literal default"
    return None


def _secrets(realm: RealmFile) -> Iterator[Finding]:
    for client in realm.clients:
        secret = client.rep.get("secret")
        if secret is not None and (why := _literal(secret)):
            yield Finding(client.client_id, "secret", "literal-secret", ERROR, why)
    for user in realm.raw.get("users") or ():
        for i, cred in enumerate(user.get("credentials") or ()):
            value = cred.get("value")
            if value is not None and (why := _literal(value)):
                yield Finding(f"user {user.get('username')}", f"credentials[{i}].value",
                              "literal-secret", ERROR, why)


def _lifespan(realm: RealmFile, client: RealmClient) -> Iterator[Finding]:
    if not client.service_account:
        return
    attrs = client.attributes
    own = str(attrs.get("access.token.lifespan", "")).strip()
    if own and own.lstrip("-").isdigit() and int(own) > 0:
        if int(own) > MAX_SERVICE_TOKEN_LIFESPAN:
            yield Finding(client.client_id, "attributes.access.token.lifespan", "token-lifespan",
                          ERROR, f"expected at most {MAX_SERVICE_TOKEN_LIFESPAN} s, found {own} s")
    elif realm.access_token_lifespan > MAX_SERVICE_TOKEN_LIFESPAN:
        yield Finding(client.client_id, "accessTokenLifespan (realm)", "token-lifespan", ERROR,
                      f"expected at most {MAX_SERVICE_TOKEN_LIFESPAN} s, found "
                      f"{realm.access_token_lifespan} s from the realm and no client override")
    if str(attrs.get("client_credentials.use_refresh_token", "")).lower() == "true":
        yield Finding(client.client_id, "attributes.client_credentials.use_refresh_token",
                      "refresh-token-client-credentials", ERROR,
                      "expected \"false\": client credentials need no refresh token, found \"true\"")


def _realm_scopes(realm: RealmFile) -> tuple[frozenset[str] | None, list[Finding]]:
    scopes = realm.raw.get("clientScopes")
    if not isinstance(scopes, list):
        return None, []
    names = frozenset(str(s.get("name")) for s in scopes if isinstance(s, dict))
    missing = [s for s in BUILTIN_SCOPES if s not in names]
    found = [Finding("realm", "clientScopes", "client-scopes-dropped", ERROR,
                     f"a clientScopes array replaces Keycloak's built-in scopes on import; "
                     f"missing: {', '.join(missing)} (put mappers on the clients instead)")]
    return names, found if missing else []


def _audience(realm: RealmFile, realm_scopes: frozenset[str] | None) -> Iterator[Finding]:
    known = {c.client_id for c in realm.clients}
    for client in realm.clients:
        account = realm.service_accounts.get(client.client_id) if client.service_account else None
        by_role = set(account.client_roles) if account else set()
        by_mapper: dict[str, bool] = {}
        for mapper in client.protocol_mappers:
            if mapper.mapper_type != "oidc-audience-mapper":
                continue
            target = mapper.config.get("included.client.audience")
            if not target:
                continue
            if target not in known:
                yield Finding(client.client_id,
                              f"protocolMappers[{mapper.name}].included.client.audience",
                              "audience-unknown-client", ERROR,
                              f"expected a client of this realm, found {target!r}")
                continue
            by_mapper[target] = by_mapper.get(target, False) or mapper.audience_client == target
        scopes = client.default_client_scopes
        # The shared model applies Keycloak's import rules (realm clientScopes, realm and
        # per-client defaults): the roles scope reaches the token when it is a default scope.
        roles_scope = "roles" in client.model.default_scopes
        for receiver in sorted((by_role | set(by_mapper)) - {client.client_id}):
            if by_mapper.get(receiver) or (receiver in by_role and roles_scope):
                continue
            field = ("defaultClientScopes" if receiver in by_role and scopes is not None
                     and "roles" not in scopes else "protocolMappers")
            yield Finding(client.client_id, field, "audience-missing", ERROR,
                          f"expected {receiver!r} in this caller's aud, found no route: add the "
                          f"'roles' default scope (its roles of {receiver} then add it) or an "
                          f"oidc-audience-mapper with access.token.claim \"true\"")


def _redirects(client: RealmClient) -> Iterator[Finding]:
    for i, uri in enumerate(client.redirect_uris):
        if "*" in uri:
            yield Finding(client.client_id, f"redirectUris[{i}]", "wildcard-redirect", ERROR,
                          f"expected an exact redirect URI, found the wildcard {uri!r}")


def _service_scope(realm: RealmFile, client: RealmClient) -> Iterator[Finding]:
    # The model applies Keycloak's import: without defaultClientScopes, a client gets
    # service_account only when Keycloak creates its service-account user (the file lists none).
    if "service_account" not in realm.model.client_scopes:
        return  # the realm has no such scope at all: client-scopes-dropped says so
    if client.service_account and "service_account" not in client.model.default_scopes:
        why = ("found it absent" if client.default_client_scopes is not None else
               "found none: the file lists the service-account user and no "
               "defaultClientScopes, so Keycloak's import adds no service_account scope")
        yield Finding(client.client_id, "defaultClientScopes", "service-account-scope-missing",
                      WARNING, f"expected 'service_account' (the client_id claim), {why}")


def lint_realm(realm: RealmFile) -> list[Finding]:
    """Every finding for ``realm`` (loaded with placeholders kept), sorted by subject/field."""
    realm_scopes, findings = _realm_scopes(realm)
    findings.extend(_secrets(realm))
    findings.extend(_audience(realm, realm_scopes))
    for client in realm.clients:
        findings.extend(_flows(client))
        findings.extend(_lifespan(realm, client))
        findings.extend(_redirects(client))
        findings.extend(_service_scope(realm, client))
    return sorted(findings)


DEVIDP_RULE = "devidp-unsupported"
"""Rule id of ``lint --devidp`` findings: something the dev IdP does not emulate."""


def devidp_findings(realm: RealmFile) -> list[Finding]:
    """One warning per thing in ``realm`` the dev IdP does not emulate (the same items it
    logs at start-up; placeholders are judged by ``literal-secret`` instead)."""
    from ..devidp._coverage import unsupported  # the dev IdP owns what it emulates

    return [Finding(n.subject, n.field, DEVIDP_RULE, WARNING, n.message)
            for n in unsupported(realm.model)]


def has_errors(findings: list[Finding]) -> bool:
    """True when any finding is an error (the CLI then exits 1)."""
    return any(f.severity == ERROR for f in findings)
