"""``svcauth doctor``: check one caller against one receiver policy on a live provider.

Checks, in order, each one :class:`CheckResult` (one line, with the fix when it fails):

``discovery``   the discovery document answers and its ``issuer`` is the configured one
``clock``       this host's clock against the provider's ``Date`` header, or the token's
                ``iat`` when there is none (Keycloak 26 sends no ``Date``); WARN over 5 s,
                FAIL over the verifier's 30 s leeway
``token``       a client-credentials token can be had with the configured credentials
``signature``   the token verifies: a key of the provider's JWKS, issuer, lifetime
``audience``    ``aud`` holds the receiver
``service-account``  the token is a service-account token (Keycloak: ``client_id`` == ``azp``)
``caller``      the caller is in the receiver's allowed clients
``roles``       the caller holds every required role

The claim checks are pure (:func:`check_claims`, :func:`check_clock`); :func:`run_doctor`
does the I/O with an injectable HTTP client and clock. No token or secret is ever printed.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from ._discovery import (
    ProviderMetadata,
    discovery_url,
    keycloak_issuer_candidates,
    normalize_auth_path,
    parse_metadata,
)
from ._errors import DiscoveryError, SvcAuthError, TokenError
from .caller import ClientConfig, ClientCredentialsSource
from .receiver import RemoteKeySet, Verifier
from .receiver._policy import keycloak_service_account, roles_of

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"


@dataclass(frozen=True)
class DoctorConfig:
    """One caller and one receiver policy to check."""

    client: ClientConfig
    """The caller's configuration (as ``ClientConfig.from_env`` builds it)."""
    audience: str
    """The receiver's client id, expected in ``aud``."""
    allowed_clients: tuple[str, ...] = ()
    """The receiver's allowed callers; empty: any service account."""
    required_roles: tuple[str, ...] = ()
    """Roles the receiver requires, ``<client>:<role>`` or ``realm:<role>``."""
    leeway: float = 30.0
    """The receiver's clock leeway in seconds (a skew beyond it FAILs). 30 s."""
    warn_skew: float = 5.0
    """A clock skew beyond this WARNs. 5 s."""


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome."""

    name: str
    """The check (``discovery``, ``clock``, ``token``...)."""
    status: str
    """``PASS``, ``WARN``, ``FAIL`` or ``SKIP``."""
    detail: str
    """What was found."""
    fix: str = ""
    """What to change (WARN/FAIL)."""

    def line(self) -> str:
        """``FAIL audience: ... (fix: ...)``."""
        return f"{self.status} {self.name}: {self.detail}" + (f" (fix: {self.fix})" if self.fix else "")


def check_clock(skew: float, config: DoctorConfig, source: str = "Date header") -> CheckResult:
    """``skew`` = this host's time minus the provider's, in seconds, measured from ``source``
    (the ``Date`` header, or the token's ``iat`` when the provider sends no ``Date``)."""
    if abs(skew) <= config.warn_skew:
        return CheckResult("clock", PASS, f"within {config.warn_skew:g} s of the provider ({source})")
    side = "ahead of" if skew > 0 else "behind"
    detail = f"this host is {abs(round(skew))} s {side} the provider ({source})"
    fix = "synchronise this host's clock (NTP)"
    if abs(skew) > config.leeway:
        return CheckResult("clock", FAIL, f"{detail}, beyond the {config.leeway:g} s leeway", fix)
    return CheckResult("clock", WARN, f"{detail}, within the {config.leeway:g} s leeway", fix)


def _second_skew(started: float, ended: float, server_second: float) -> float:
    # Date and iat have one-second resolution: the server's time lies within that second.
    return (started + ended) / 2 - (server_second + 0.5)


def check_claims(claims: Mapping[str, Any], config: DoctorConfig) -> list[CheckResult]:
    """The audience, service-account, caller and role checks on a token's claims."""
    client = config.client.client_id
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
    out = []
    if config.audience in auds:
        out.append(CheckResult("audience", PASS, f"aud holds {config.audience!r}"))
    else:
        out.append(CheckResult(
            "audience", FAIL, f"aud is {sorted(auds)!r}, expected {config.audience!r}",
            f"add a role of {config.audience} to {client}'s service account, or an audience "
            f"mapper (oidc-audience-mapper, included.client.audience={config.audience}) on {client}"))
    if keycloak_service_account(claims):
        out.append(CheckResult("service-account", PASS, "client_id equals azp"))
    else:
        out.append(CheckResult(
            "service-account", FAIL, "not a service-account token (client_id is not azp)",
            f"enable service accounts on {client} and add the service_account default client "
            f"scope (it carries client_id)"))
    caller = claims.get("azp") if isinstance(claims.get("azp"), str) else claims.get("client_id")
    if not config.allowed_clients:
        out.append(CheckResult("caller", PASS, "any service account is allowed"))
    elif caller in config.allowed_clients:
        out.append(CheckResult("caller", PASS, f"{caller!r} is allowed"))
    else:
        out.append(CheckResult(
            "caller", FAIL, f"{caller!r} is not in {sorted(config.allowed_clients)!r}",
            f"add {caller} to the receiver's allowed clients, or call with an allowed client"))
    missing = sorted(set(config.required_roles) - roles_of(claims))
    if not config.required_roles:
        out.append(CheckResult("roles", PASS, "none required"))
    elif not missing:
        out.append(CheckResult("roles", PASS, f"holds {', '.join(sorted(config.required_roles))}"))
    else:
        grants = "; ".join(
            f"grant the {'realm' if owner == 'realm' else 'client'} role {role}"
            f"{'' if owner == 'realm' else ' of ' + owner} to {client}'s service account"
            for owner, _, role in (r.partition(":") for r in missing))
        out.append(CheckResult("roles", FAIL, f"missing {', '.join(missing)}", grants))
    return out


def _issuers(client: ClientConfig) -> list[str]:
    if client.issuer:
        return [client.issuer]
    if client.keycloak_url and client.realm:
        return keycloak_issuer_candidates(client.keycloak_url, client.realm,
                                          normalize_auth_path(client.auth_path))
    return []


def _discover(http: httpx.Client, config: DoctorConfig, clock: Callable[[], float]
              ) -> tuple[CheckResult, ProviderMetadata | None, float | None]:
    candidates = _issuers(config.client)
    if not candidates:
        return (CheckResult("discovery", FAIL, "no issuer configured",
                            "set OIDC_ISSUER, or KEYCLOAK_URL and KEYCLOAK_REALM"), None, None)
    problems = []
    last_skew = None
    for issuer in candidates:
        url = discovery_url(issuer)
        started = clock()
        try:
            response = http.get(url)
        except httpx.HTTPError as exc:
            problems.append(CheckResult(
                "discovery", FAIL, f"{url} unreachable ({type(exc).__name__})",
                "start the provider, or correct KEYCLOAK_URL / OIDC_ISSUER"))
            continue
        ended = clock()
        skew = None
        if date := response.headers.get("Date"):
            skew = last_skew = _second_skew(started, ended, parsedate_to_datetime(date).timestamp())
        if response.status_code != 200:
            problems.append(CheckResult(
                "discovery", FAIL, f"{url} answered HTTP {response.status_code}",
                "check KEYCLOAK_REALM and KEYCLOAK_AUTH_PATH ('/auth' for the legacy layout)"))
            continue
        try:
            document = response.json()
        except ValueError:
            document = None
        found = document.get("issuer") if isinstance(document, dict) else None
        try:
            meta = parse_metadata(issuer, document)
        except DiscoveryError:
            if isinstance(found, str):
                return (CheckResult(
                    "discovery", FAIL, f"issuer is {found!r}, configured {issuer!r}",
                    "set KEYCLOAK_URL to the provider's public URL (Keycloak's --hostname) or "
                    f"OIDC_ISSUER to {found}"), None, skew)
            problems.append(CheckResult("discovery", FAIL, f"{url} is not a discovery document",
                                        "point OIDC_ISSUER / KEYCLOAK_URL at the provider"))
            continue
        return CheckResult("discovery", PASS, f"{url} answers, issuer as configured"), meta, skew
    return problems[-1], None, last_skew


def _decode(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


def _token_fix(code: str, client: str) -> str:
    if code in ("invalid_client", "unauthorized_client"):
        return (f"check KEYCLOAK_CLIENT_ID={client} and its credential (KEYCLOAK_CLIENT_SECRET, "
                "_SECRET_FILE or _KEY_FILE) against the client in the realm; service accounts "
                "must be enabled on it")
    if code == "invalid_scope":
        return "ask only for scopes the client has"
    return "see the provider's log"


def _verify(http: httpx.Client, meta: ProviderMetadata, token: str, config: DoctorConfig,
            clock: Callable[[], float]) -> tuple[CheckResult, dict[str, Any]]:
    keys = RemoteKeySet(meta.jwks_uri, issuer=meta.issuer, http_client=http)
    verifier = Verifier(issuer=meta.issuer, audience=config.audience, key_set=keys,
                        leeway=config.leeway, clock=clock, cache=None)
    ok = CheckResult("signature", PASS, f"signed by a key of {meta.jwks_uri}; issuer and lifetime valid")
    try:
        return ok, dict(verifier.verify(token).to_dict())
    except SvcAuthError as exc:
        if exc.code == "audience_mismatch":
            return ok, _decode(token)  # audience is the next check's business
        fix = ("synchronise this host's clock (NTP)" if exc.code in ("token_expired",
               "token_not_yet_valid", "iat_in_future") else "see the message")
        return CheckResult("signature", FAIL, f"[{exc.code}] {exc.message}", fix), _decode(token)


def run_doctor(config: DoctorConfig, *, http: httpx.Client | None = None,
               clock: Callable[[], float] = time.time) -> list[CheckResult]:
    """Run every check against the live provider; stops early only when a check makes the
    rest meaningless (then those are ``SKIP``)."""
    own = http is None
    client = http or httpx.Client(timeout=config.client.timeout, follow_redirects=False)
    try:
        discovery, meta, skew = _discover(client, config, clock)
        # Keycloak 26 sends no Date header: then the token's iat tells the provider's time.
        no_clock = CheckResult("clock", SKIP, "no Date header and no token from the provider")
        results = [discovery, check_clock(skew, config) if skew is not None else no_clock]
        if meta is None:
            return [*results, CheckResult("token", SKIP, "needs discovery")]
        caller = replace(config.client, token_endpoint=meta.token_endpoint, issuer=meta.issuer)
        source = ClientCredentialsSource(caller, http=client, wall_clock=clock)
        started = clock()
        try:
            token = source.fetch().access_token
        except TokenError as exc:
            return [*results, CheckResult("token", FAIL, exc.message,
                                          _token_fix(exc.code, config.client.client_id))]
        ended = clock()
        results.append(CheckResult("token", PASS, f"{config.client.client_id} got a token from "
                                                  f"{meta.token_endpoint}"))
        verified, claims = _verify(client, meta, token, config, clock)
        iat = claims.get("iat")
        if skew is None and isinstance(iat, (int, float)) and not isinstance(iat, bool):
            results[1] = check_clock(_second_skew(started, ended, float(iat)), config, "token iat")
        return [*results, verified, *check_claims(claims, config)]
    finally:
        if own:
            client.close()


def exit_code(results: list[CheckResult]) -> int:
    """1 when any check FAILed, else 0."""
    return 1 if any(r.status == FAIL for r in results) else 0
