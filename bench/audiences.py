"""One token for all of shop-api's audiences, or one token per audience (issue 14 item 3).

    python bench/audiences.py [--json] [--rounds N]

Both designs run on the embedded provider (Keycloak's rules, checked against Keycloak by
the conformance corpus), with shop-api's real credentials:

- **one token** (what MockMart does): the project realm as it is. Keycloak's
  audience-resolve mapper puts every client whose role shop-api holds in ``aud``
  (inventory-service, notification-service, rabbitmq, ...), so one cached token serves
  every call.
- **per audience**: a variant of the same realm as Keycloak does narrow tokens for client
  credentials (it has no RFC 8707 ``resource``): shop-api ``fullScopeAllowed: false``, one
  optional client scope per service whose role scope mapping holds that service's roles,
  asked for with ``scope=<service>-audience``; audience-resolve then names that service
  alone. One cache key, one token request per lifetime and one cached token per audience.

Measured for a checkout's two service calls (inventory, notification): token requests per
token lifetime (the provider's own count over 100 checkouts), the bytes of the
``Authorization`` header each call sends, each design's cold start (fetching what the
calls need, fresh caches) and its warm cost per checkout (cached ``token()`` reads),
interleaved round after round; ratios per round, medians.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from svcauth._envfile import load_env_file
from svcauth.caller import (
    CachingTokenSource,
    ClientConfig,
    ClientCredentialsSource,
    ClientSecretBasic,
)
from svcauth.devidp import DevIdP

REPO = Path(__file__).resolve().parents[1]

SERVICES = {"inventory-service": ("inventory:read", "inventory:reserve"),
            "notification-service": ("notifications:send",)}
BUILTINS = REPO / "tests" / "conformance" / "realms" / "full-export-style.json"


def per_audience_realm(realm: dict[str, Any]) -> dict[str, Any]:
    """The project realm with shop-api getting one narrow token per audience."""
    out = copy.deepcopy(realm)
    builtins = [s for s in json.loads(BUILTINS.read_text())["clientScopes"]
                if s["name"] not in ("orders:read", "tenant")]  # Keycloak's own scopes only
    out["clientScopes"] = builtins + [
        {"name": f"{service}-audience", "protocol": "openid-connect",
         "attributes": {"include.in.token.scope": "true"}} for service in SERVICES]
    out["clientScopeMappings"] = {
        **out.get("clientScopeMappings", {}),
        **{service: [{"clientScope": f"{service}-audience", "roles": list(roles)}]
           for service, roles in SERVICES.items()}}
    [shop] = [c for c in out["clients"] if c["clientId"] == "shop-api"]
    shop["fullScopeAllowed"] = False
    shop["optionalClientScopes"] = [*shop.get("optionalClientScopes", []),
                                    *(f"{s}-audience" for s in SERVICES)]
    return out


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _source(idp: DevIdP, secret: str, scope: tuple[str, ...] = ()) -> CachingTokenSource:
    config = ClientConfig(client_id="shop-api", auth=ClientSecretBasic(secret),
                          token_endpoint=idp.token_endpoint, scope=scope)
    return CachingTokenSource(ClientCredentialsSource(config))


def _designs(one: DevIdP, narrow: DevIdP, secret: str) -> dict[str, dict[str, CachingTokenSource]]:
    shared = _source(one, secret)
    return {"one token": {service: shared for service in SERVICES},
            "per audience": {service: _source(narrow, secret, (f"{service}-audience",))
                             for service in SERVICES}}


def _checkout_tokens(sources: dict[str, CachingTokenSource]) -> None:
    for service in SERVICES:  # a checkout's two calls, each with its audience's token
        sources[service].token()


def _ratio(series: dict[str, list[float]]) -> float:
    """Median of the per-round ratios, per audience over one token."""
    return statistics.median(b / a for a, b in zip(series["one token"], series["per audience"],
                                                   strict=True))


def measure(rounds: int) -> dict[str, Any]:
    env = load_env_file(REPO / "deploy" / "dev.env")
    secret = env["SHOP_API_CLIENT_SECRET"]
    realm = json.loads((REPO / "deploy" / "keycloak" / "techstore-realm.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        narrow_file = Path(tmp) / "per-audience-realm.json"
        narrow_file.write_text(json.dumps(per_audience_realm(realm)))
        one = DevIdP(REPO / "deploy" / "keycloak" / "techstore-realm.json", env=env).start()
        narrow = DevIdP(narrow_file, env=env).start()
        try:
            designs = _designs(one, narrow, secret)
            providers = {"one token": one, "per audience": narrow}
            report: dict[str, Any] = {}
            for name, sources in designs.items():
                providers[name].reset_stats()
                for _ in range(100):  # 100 checkouts within one token lifetime
                    _checkout_tokens(sources)
                tokens = {service: sources[service].token() for service in SERVICES}
                report[name] = {
                    "token_requests_per_lifetime": providers[name].stats()["token_requests_total"],
                    "aud": {s: sorted(_claims(t)["aud"]) if isinstance(_claims(t)["aud"], list)
                            else [_claims(t)["aud"]] for s, t in tokens.items()},
                    "roles": {s: sorted(_claims(t).get("resource_access", {})) for s, t in
                              tokens.items()},
                    "authorization_header_bytes": {s: len("Bearer " + t) for s, t in
                                                   tokens.items()},
                }
            cold: dict[str, list[float]] = {name: [] for name in designs}
            warm: dict[str, list[float]] = {name: [] for name in designs}
            for _ in range(rounds):
                for name in designs:  # cold: fresh caches, the tokens one checkout needs
                    fresh = _designs(one, narrow, secret)[name]
                    start = time.perf_counter_ns()
                    _checkout_tokens(fresh)
                    cold[name].append((time.perf_counter_ns() - start) / 1e6)
                for name, sources in designs.items():  # warm: 1,000 checkouts' reads
                    start = time.perf_counter_ns()
                    for _ in range(1000):
                        _checkout_tokens(sources)
                    warm[name].append((time.perf_counter_ns() - start) / 1000)
            for name in designs:
                report[name]["cold_start_ms_median"] = round(statistics.median(cold[name]), 2)
                report[name]["warm_ns_per_checkout_median"] = round(statistics.median(warm[name]))
            report["per_audience_over_one"] = {"cold_start": round(_ratio(cold), 2),
                                               "warm": round(_ratio(warm), 2)}
            return report
        finally:
            narrow.stop()
            one.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds (31)")
    args = parser.parse_args()
    report = measure(args.rounds)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name in ("one token", "per audience"):
        r = report[name]
        print(f"{name}:")
        print(f"  token requests per lifetime: {r['token_requests_per_lifetime']}")
        for service in SERVICES:
            print(f"  {service}: aud {r['aud'][service]}, Authorization "
                  f"{r['authorization_header_bytes'][service]} bytes")
        print(f"  cold start (tokens for one checkout): {r['cold_start_ms_median']} ms")
        print(f"  warm, per checkout (cached reads): {r['warm_ns_per_checkout_median']} ns")
    print(f"per audience / one token: {report['per_audience_over_one']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
