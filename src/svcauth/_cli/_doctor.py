"""``svcauth doctor``: check a live setup for one caller and one receiver policy.

The caller comes from the environment as for ``svcauth token`` (``KEYCLOAK_CLIENT_ID``, its
secret or key, ``KEYCLOAK_URL``/``KEYCLOAK_REALM``/``KEYCLOAK_AUTH_PATH`` or ``OIDC_ISSUER``);
the receiver's policy from the flags. One line per check, PASS/WARN/FAIL/SKIP, with the fix;
exit 1 on any FAIL.

    svcauth doctor --audience notification-service --allow-client shop-api \\
        --require-role notification-service:notifications:send
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``svcauth doctor``."""
    p = subparsers.add_parser("doctor", help="check a caller against a receiver policy, live",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--audience", required=True,
                   help="the receiver's client id, expected in the token's aud")
    p.add_argument("--allow-client", action="append", default=[], metavar="CLIENT",
                   help="a client the receiver allows (repeatable; default: any)")
    p.add_argument("--require-role", action="append", default=[], metavar="CLIENT:ROLE",
                   help="a role the receiver requires (repeatable), e.g. "
                        "notification-service:notifications:send or realm:ROLE")
    p.add_argument("--leeway", type=float, default=30.0,
                   help="the receiver's clock leeway in seconds (default 30)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks and print one line each."""
    from .._doctor import DoctorConfig, exit_code, run_doctor
    from ..caller import ClientConfig

    config = DoctorConfig(client=ClientConfig.from_env(os.environ), audience=args.audience,
                          allowed_clients=tuple(args.allow_client),
                          required_roles=tuple(args.require_role), leeway=args.leeway)
    results = run_doctor(config)
    for result in results:
        print(result.line())
    return exit_code(results)
