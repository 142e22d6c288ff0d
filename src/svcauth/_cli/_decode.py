"""``svcauth decode TOKEN|-``: show a JWT's header, claims and time left. NOT VERIFIED:
nothing here checks the signature, the issuer or the audience."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

BANNER = "NOT VERIFIED: signature, issuer and audience were not checked"


def add_parser(subparsers: Any) -> None:
    """Register ``svcauth decode``."""
    p = subparsers.add_parser("decode", help="show a JWT's header and claims (NOT VERIFIED)",
                              description=__doc__)
    p.add_argument("token", help="the compact JWT, or - to read it from standard input")
    p.set_defaults(func=run)


def _segment(raw: str, name: str) -> dict[str, Any]:
    import json

    from .._errors import InvalidTokenError
    from .._jws import b64url_decode

    try:
        value = json.loads(b64url_decode(raw))
    except ValueError:
        raise InvalidTokenError(f"JWT {name}: expected base64url JSON", code="token_malformed") from None
    if not isinstance(value, dict):
        raise InvalidTokenError(f"JWT {name}: expected a JSON object", code="token_malformed")
    return value


def _duration(seconds: float) -> str:
    s = int(abs(seconds))
    text = f"{s // 3600}h {s % 3600 // 60}m {s % 60}s" if s >= 3600 else f"{s // 60}m {s % 60}s"
    return text


def describe(token: str, now: float) -> str:
    """The text ``svcauth decode`` prints for ``token`` at wall-clock time ``now``."""
    import json

    from .._errors import InvalidTokenError

    parts = token.strip().split(".")
    if len(parts) != 3:
        raise InvalidTokenError(
            f"JWT: expected 3 dot-separated parts, found {len(parts)}", code="token_malformed")
    header, claims = _segment(parts[0], "header"), _segment(parts[1], "payload")
    lines = [BANNER, "header:", json.dumps(header, indent=2, sort_keys=True),
             "claims:", json.dumps(claims, indent=2, sort_keys=True)]
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        left = exp - now
        lines.append(f"time left: {_duration(left)}" if left > 0
                     else f"time left: expired {_duration(left)} ago")
    else:
        lines.append("time left: unknown (no exp claim)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the decoded token."""
    token = sys.stdin.read() if args.token == "-" else args.token
    print(describe(token, time.time()))
    return 0
