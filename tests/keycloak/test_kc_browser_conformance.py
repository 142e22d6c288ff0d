"""The browser flow end to end on the real Keycloak and on the embedded provider, same realm
file, same scripted browser (httpx, cookies, no automatic redirects): redirect parameters,
token-response fields, ID/access token claim names and JSON types, userinfo and every error
answer must match. The login form itself differs by nature (only its field names are used)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from browser_flow import Browser, code_flow, params_of, pkce_pair
from keycloak_support import REALM_FILE, claims_of
from svcauth.devidp import DevIdP, load_realm
from svcauth.keycloak import KeycloakEndpoints

pytestmark = pytest.mark.keycloak

CLIENT = "storefront"
CB = "http://127.0.0.1:5173/callback"  # any port: loopback redirect URIs match without it
ALICE = ("alice", "dev-alice-password")
SECRET = "dev-storefront-secret-6a0d2f"  # storefront is confidential (deploy/dev.env)


def _shape(obj: dict[str, Any]) -> dict[str, str]:
    return {k: type(v).__name__ for k, v in obj.items()}


def _observe(realm_url: str) -> dict[str, Any]:
    """Everything compared, from one provider."""
    out: dict[str, Any] = {}
    b = Browser(realm_url)
    try:
        got, body, verifier = code_flow(b, CLIENT, CB, *ALICE, client_secret=SECRET,
                                        response_mode="fragment")
        out["redirect_params"] = sorted(got)
        out["redirect_iss_is_issuer"] = got["iss"] == realm_url
        out["token_fields"] = _shape(body)
        # expires_in may be one second less on Keycloak (counted from the session's start),
        # and the order of scope words differs (a set): compared as a set.
        out["token_values"] = (body["token_type"], sorted(body["scope"].split()))
        out["session_state_is_sid"] = claims_of(body["id_token"])["sid"] == body["session_state"]
        idt = claims_of(body["id_token"])
        out["id_claims"] = _shape(idt)
        out["id_values"] = {k: idt[k] for k in ("typ", "aud", "azp", "nonce",
                                                "preferred_username", "acr")}
        access = claims_of(body["access_token"])
        out["access_claims"] = _shape(access)
        out["access_jti_prefix"] = access["jti"].split(":")[0]
        out["auth_time_equal"] = access["auth_time"] == idt["auth_time"]
        info = b.http.get(f"{realm_url}/protocol/openid-connect/userinfo",
                          headers={"Authorization": f"Bearer {body['access_token']}"})
        out["userinfo"] = (info.status_code, _shape(info.json()),
                           info.json()["sub"] == access["sub"])
        # A second /auth is silent (SSO), prompt=none too, same session.
        _, challenge = pkce_pair()
        base = {"client_id": CLIENT, "redirect_uri": CB, "response_type": "code",
                "scope": "openid", "state": "s2", "code_challenge": challenge,
                "code_challenge_method": "S256"}
        silent = b.authorize(**base, prompt="none")
        sp = params_of(silent.headers.get("location", ""))
        out["sso"] = (silent.status_code, sorted(sp), sp.get("session_state") == got["session_state"])
        # Refresh: reuse allowed by default.
        r1 = b.token(grant_type="refresh_token", client_id=CLIENT, client_secret=SECRET,
                     refresh_token=body["refresh_token"])
        r2 = b.token(grant_type="refresh_token", client_id=CLIENT, client_secret=SECRET,
                     refresh_token=body["refresh_token"])
        out["refresh"] = (r1.status_code, _shape(r1.json()), r2.status_code,
                          claims_of(r1.json()["access_token"])["jti"].split(":")[0])
        # Reused code.
        again = b.token(grant_type="authorization_code", code=got["code"], client_id=CLIENT,
                        client_secret=SECRET,
                        redirect_uri=CB, code_verifier=verifier)
        out["reused_code"] = (again.status_code, again.json())
    finally:
        b.close()
    out["errors"] = _errors(realm_url)
    out["logout"] = _logout(realm_url)
    return out


def _code(b: Browser, **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce_pair()
    got = b.login(*ALICE, client_id=CLIENT, redirect_uri=CB, response_type="code",
                  scope="openid", state="s", code_challenge=challenge,
                  code_challenge_method="S256", **extra)
    return got["code"], verifier


def _errors(realm_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    b = Browser(realm_url)
    try:
        _, challenge = pkce_pair()
        base = {"client_id": CLIENT, "redirect_uri": CB, "response_type": "code",
                "scope": "openid", "state": "s", "code_challenge": challenge,
                "code_challenge_method": "S256"}
        for name, over in {
            "bad_redirect": {"redirect_uri": "http://evil.example/cb"},
            "unknown_client": {"client_id": "nobody"},
        }.items():
            r = b.authorize(**{**base, **over})
            out[name] = (r.status_code, "location" in r.headers,
                         r.headers.get("content-type", "").split(";")[0])
        for name, over in {
            "prompt_none": {"prompt": "none"},
            "no_pkce_method": {"code_challenge_method": ""},
            "plain_pkce": {"code_challenge_method": "plain"},
            "no_response_type": {"response_type": ""},
        }.items():
            params = {k: v for k, v in {**base, **over}.items() if v != ""}
            r = b.authorize(**params)
            got = params_of(r.headers.get("location", ""))
            out[name] = (r.status_code, got.get("error"), got.get("error_description"),
                         got.get("state"), got.get("iss") == realm_url)
        cases = {"wrong_verifier": {"code_verifier": "a" * 43},
                 "no_verifier": {"code_verifier": None},
                 "bad_verifier": {"code_verifier": "short"},
                 "wrong_redirect": {"redirect_uri": "http://127.0.0.1:5173/other"},
                 "no_code": {"code": None}}
        for name, change in cases.items():
            code, verifier = _code(b)
            form: dict[str, str | None] = {"grant_type": "authorization_code", "code": code,
                                           "client_id": CLIENT, "client_secret": SECRET,
                                           "redirect_uri": CB,
                                           "code_verifier": verifier, **change}
            r = b.token(**{k: v for k, v in form.items() if v is not None})
            out[name] = (r.status_code, r.json())
    finally:
        b.close()
    return out


def _logout(realm_url: str) -> dict[str, Any]:
    b = Browser(realm_url)
    try:
        _, body, _ = code_flow(b, CLIENT, CB, *ALICE, client_secret=SECRET)
        oidc = f"{realm_url}/protocol/openid-connect"
        bad = b.http.get(f"{oidc}/logout", params={
            "id_token_hint": body["id_token"], "post_logout_redirect_uri": "http://evil.example/"})
        r = b.http.get(f"{oidc}/logout", params={
            "id_token_hint": body["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:5173/",
            "state": "bye"})
        refresh = b.token(grant_type="refresh_token", client_id=CLIENT, client_secret=SECRET,
                          refresh_token=body["refresh_token"])
        _, challenge = pkce_pair()
        after = b.authorize(client_id=CLIENT, redirect_uri=CB, response_type="code",
                            scope="openid", prompt="none", code_challenge=challenge,
                            code_challenge_method="S256")
        return {"bad_uri": bad.status_code, "status": r.status_code,
                "location": r.headers.get("location"),
                "refresh_after": (refresh.status_code, refresh.json()),
                "prompt_none_after": params_of(after.headers.get("location", "")).get("error")}
    finally:
        b.close()


@pytest.fixture(scope="module")
def embedded(keycloak_env: dict[str, str]) -> Iterator[DevIdP]:
    with DevIdP(load_realm(REALM_FILE, keycloak_env)) as idp:
        yield idp


def test_browser_flow_matches_keycloak(keycloak: KeycloakEndpoints, embedded: DevIdP) -> None:
    theirs = _observe(keycloak.issuer)
    ours = _observe(embedded.issuer)
    diffs = {key: {"keycloak": theirs[key], "embedded": ours.get(key)}
             for key in theirs if ours.get(key) != theirs[key]}
    assert diffs == {}, json.dumps(diffs, indent=1, sort_keys=True)
