"""The ``svcauth`` command line: one sub-command per module in this package.

Each module exposes ``add_parser(subparsers)``, which registers its sub-command and sets
``func`` (taking the parsed ``argparse.Namespace`` and returning an exit code). Modules
import their heavy dependencies inside ``func`` so that ``svcauth --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._errors import SvcAuthError

_COMMANDS = ("token", "decode", "verify", "devidp", "keycloak", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="svcauth",
        description="Service-to-service authentication with OAuth 2.0 Client Credentials.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"{__name__}._{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``svcauth`` console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except SvcAuthError as exc:
        print(f"svcauth {args.command}: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
