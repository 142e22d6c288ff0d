"""``svcauth token``: print an access token obtained with the client-credentials grant.

The configuration comes from the environment (``KEYCLOAK_*``, ``OIDC_ISSUER``) and the
flags below override it. The secret comes only from ``KEYCLOAK_CLIENT_SECRET`` or a file,
never from a flag (a flag would land in shell history and ``ps``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``svcauth token``."""
    p = subparsers.add_parser(
        "token", help="print an access token for this service (client credentials)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        # No prefix matching: "--client-secret VALUE" must fail, not read VALUE as a path.
        allow_abbrev=False,
    )
    where = p.add_argument_group("where (default: OIDC_ISSUER or KEYCLOAK_URL/KEYCLOAK_REALM)")
    where.add_argument("--issuer", help="OpenID issuer URL (discovery)")
    where.add_argument("--keycloak-url", help="Keycloak base URL, e.g. http://127.0.0.1:8080")
    where.add_argument("--realm", help="Keycloak realm")
    where.add_argument("--auth-path", help="'/auth', '' or 'auto' (default KEYCLOAK_AUTH_PATH)")
    who = p.add_argument_group("who (default: KEYCLOAK_CLIENT_ID and its secret or key)")
    who.add_argument("--client-id", help="OAuth client id")
    cred = who.add_mutually_exclusive_group()
    cred.add_argument("--client-secret-file", help="file holding the client secret")
    cred.add_argument("--private-key-file", help="PEM or JWK private key (private_key_jwt)")
    p.add_argument("--scope", help="space-separated scopes to ask for")
    p.add_argument("--audience", help="audience form field, for providers that use one")
    p.add_argument("--json", action="store_true",
                   help="print the whole token response and its expiry as JSON")
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace, env: os._Environ[str] | dict[str, str]) -> dict[str, object]:
    from ..caller import ClientSecretBasic, PrivateKeyJWT

    out: dict[str, object] = {}
    if args.client_id:
        out["client_id"] = args.client_id
    if args.private_key_file:
        out["auth"] = PrivateKeyJWT(args.private_key_file)
    elif args.client_secret_file:
        out["auth"] = ClientSecretBasic(secret_file=args.client_secret_file)
    if args.issuer:
        out["issuer"] = args.issuer
    elif args.keycloak_url or args.realm or args.auth_path is not None:
        out["keycloak_url"] = args.keycloak_url or env.get("KEYCLOAK_URL")
        out["realm"] = args.realm or env.get("KEYCLOAK_REALM")
        out["auth_path"] = (args.auth_path if args.auth_path is not None
                            else env.get("KEYCLOAK_AUTH_PATH", ""))
    if args.scope:
        out["scope"] = args.scope
    if args.audience:
        out["audience"] = args.audience
    return out


def run(args: argparse.Namespace) -> int:
    """Fetch one token and print it (or the whole response with ``--json``)."""
    import json
    import time
    from datetime import UTC, datetime

    from ..caller import ClientConfig, ClientCredentialsSource

    env = os.environ
    config = ClientConfig.from_env(env, **_overrides(args, env))
    source = ClientCredentialsSource(config)
    wall = time.time()
    try:
        token = source.fetch()
    finally:
        source.close()
    if not args.json:
        print(token.access_token)
        return 0
    expires_at = wall + token.lifetime
    document = dict(token.raw)
    document["expires_at"] = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds")
    document["token_endpoint"] = source.config.token_endpoint
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0
