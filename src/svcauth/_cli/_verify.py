"""``svcauth verify TOKEN|-``: verify an access token as a receiver would, and show who called.

Exit status 0 with the caller's identity on standard output, or 1 with
``svcauth verify: error [<code>]: <reason>`` on standard error (printed by the command-line
entry point). The token itself is never printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``svcauth verify``."""
    p = subparsers.add_parser(
        "verify", help="verify an access token and show the calling service",
        description="Verify a bearer token exactly as a receiver configured with these options "
                    "would (signature, expiry, issuer, audience, token type, then the service "
                    "policy), and print the caller's identity.",
    )
    p.add_argument("token", help="the access token, or - to read it from standard input")
    p.add_argument("--issuer", required=True, metavar="URL",
                   help="the exact issuer, e.g. http://127.0.0.1:8080/realms/techstore")
    p.add_argument("--audience", required=True, action="append", metavar="A",
                   help="the receiver's client id; must be in the token's aud (repeatable)")
    p.add_argument("--allow-client", action="append", default=None, metavar="ID",
                   help="admit only these callers (azp); repeatable; default: any service "
                        "account")
    p.add_argument("--require-role", action="append", default=[], metavar="CLIENT:ROLE",
                   help="a role the caller must hold: <client>:<role> or realm:<role>; "
                        "repeatable")
    p.add_argument("--require-scope", action="append", default=[], metavar="S",
                   help="a scope the token must carry; repeatable")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--jwks-uri", metavar="URL",
                      help="fetch keys here instead of through OpenID Connect discovery")
    keys.add_argument("--jwks-file", metavar="FILE",
                      help="verify with the keys of this JWKS file (offline)")
    p.add_argument("--algorithm", action="append", default=None, metavar="ALG",
                   help="an accepted JWS algorithm (repeatable; default RS256)")
    p.add_argument("--leeway", type=float, default=30.0, metavar="SECONDS",
                   help="clock skew tolerated on exp, nbf and iat (default 30)")
    p.add_argument("--service-account-rule", choices=("keycloak", "rfc9068"),
                   default="keycloak",
                   help="how a service-account token is told from a user token "
                        "(default keycloak: client_id equals azp)")
    p.add_argument("--json", action="store_true", help="print the identity as JSON")
    p.set_defaults(func=run)


def _read_token(value: str) -> str:
    from .._errors import MissingTokenError

    text = sys.stdin.read() if value == "-" else value
    token = text.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise MissingTokenError("expected a token as argument or on standard input, found none")
    return token


def _key_set(args: argparse.Namespace) -> Any:
    import json
    from pathlib import Path

    from .._errors import ConfigurationError
    from ..receiver import RemoteKeySet, StaticKeySet

    if args.jwks_file:
        try:
            document = json.loads(Path(args.jwks_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"--jwks-file: expected a readable JWKS JSON file, found "
                                     f"{type(exc).__name__}") from None
        return StaticKeySet(document, issuer=args.issuer)
    if args.jwks_uri:
        return RemoteKeySet(args.jwks_uri, issuer=args.issuer)
    return RemoteKeySet.from_discovery(args.issuer)


def describe(identity: Any, now: float, *, as_json: bool = False) -> str:
    """The text printed for a verified caller."""
    import json

    exp = identity.claims.get("exp")
    left = float(exp) - now if isinstance(exp, int | float) and not isinstance(exp, bool) else None
    if as_json:
        return json.dumps({
            "client_id": identity.client_id, "subject": identity.subject,
            "roles": sorted(identity.roles), "scopes": sorted(identity.scopes),
            "issuer": identity.claims.get("iss"), "expires_in": None if left is None else int(left),
        }, indent=2)
    lines = [
        f"verified: service account {identity.client_id!r}",
        f"  issuer:     {identity.claims.get('iss')}",
        f"  subject:    {identity.subject}",
        f"  roles:      {', '.join(sorted(identity.roles)) or '(none)'}",
        f"  scopes:     {' '.join(sorted(identity.scopes)) or '(none)'}",
    ]
    if left is not None:
        lines.append(f"  expires in: {int(left)} s")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Verify, authorize, print; errors propagate as ``SvcAuthError`` (exit 1)."""
    from .._errors import ForbiddenError
    from ..receiver import ServicePolicy, Verifier

    token = _read_token(args.token)
    policy = ServicePolicy(allowed_clients=args.allow_client, required_roles=args.require_role,
                           required_scopes=args.require_scope,
                           service_account_rule=args.service_account_rule)
    verifier = Verifier(issuer=args.issuer, audience=args.audience, key_set=_key_set(args),
                        algorithms=args.algorithm or ("RS256",), leeway=args.leeway, cache=None)
    claims = verifier.verify(token)
    try:
        identity = policy.authorize(claims)
    except ForbiddenError as exc:
        if not exc.required:
            raise
        # Name what is missing: these are the command's own options, not token contents.
        raise ForbiddenError(f"{exc.message}: missing {', '.join(exc.required)}", code=exc.code,
                             required=exc.required) from None
    print(describe(identity, time.time(), as_json=args.json))
    return 0
