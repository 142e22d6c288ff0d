"""``mockmart demo`` (interim): start the embedded identity provider from the realm file,
fetch a ``shop-api`` service token with plain httpx, verify it against the provider's
JWKS and print its header and claims. A later version runs the full MockMart system.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REALM_FILE = Path("deploy/keycloak/techstore-realm.json")
ENV_FILE = Path("deploy/dev.env")


def _repo_root() -> Path:
    """The directory holding deploy/: the cwd, else the source checkout of this package."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (candidate / REALM_FILE).is_file():
            return candidate
    raise SystemExit(f"mockmart demo: cannot find {REALM_FILE}; run it from the repository root")


def _verify(token: str, jwks: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the RS256 signature with the published key of the header's kid."""
    from svcauth._jwk import key_from_jwk
    from svcauth._jws import ALGORITHMS, b64url_decode

    h64, p64, s64 = token.split(".")
    header = json.loads(b64url_decode(h64))
    claims = json.loads(b64url_decode(p64))
    if header.get("alg") != "RS256":
        raise SystemExit(f"mockmart demo: expected alg RS256, found {header.get('alg')!r}")
    jwk = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")
                and k.get("use") == "sig"), None)
    if jwk is None:
        raise SystemExit("mockmart demo: token kid not in the provider's JWKS")
    if not ALGORITHMS["RS256"].verify(key_from_jwk(jwk), f"{h64}.{p64}".encode("ascii"),
                                      b64url_decode(s64)):
        raise SystemExit("mockmart demo: signature does not verify against the JWKS")
    return header, claims


def demo() -> int:
    """Run the interim demo; returns the exit code."""
    import httpx

    from svcauth.devidp import DevIdP, load_env_file

    root = _repo_root()
    env = load_env_file(root / ENV_FILE)
    env.update({k: v for k, v in os.environ.items() if k in env})
    with DevIdP(root / REALM_FILE, env=env) as idp:
        print(f"identity provider (embedded, Keycloak-compatible): {idp.issuer}")
        response = httpx.post(idp.token_endpoint, data={
            "grant_type": "client_credentials", "client_id": "shop-api",
            "client_secret": env["SHOP_API_CLIENT_SECRET"]}, timeout=10)
        if response.status_code != 200:
            print(f"token request failed: HTTP {response.status_code} {response.text[:300]}",
                  file=sys.stderr)
            return 1
        body = response.json()
        token = body["access_token"]
        jwks = httpx.get(idp.jwks_uri, timeout=10).json()
        header, claims = _verify(token, jwks)
    print(f"shop-api got a token: eyJ...{token[-6:]} (expires_in {body['expires_in']} s, "
          f"token_type {body['token_type']})")
    print("signature verified against the provider's JWKS (kid "
          f"{header['kid'][:12]}...)")
    print("header:")
    print(json.dumps(header, indent=2))
    print("claims:")
    print(json.dumps(claims, indent=2))
    print(f"\nazp={claims['azp']} client_id={claims['client_id']} aud={claims.get('aud')} "
          f"preferred_username={claims['preferred_username']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mockmart`` console script."""
    parser = argparse.ArgumentParser(prog="mockmart", description="MockMart reference system")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("demo", help="show a service token from the embedded identity provider")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2  # pragma: no cover - argparse refuses other commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
