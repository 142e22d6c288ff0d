"""``svcauth keycloak``: run a local Keycloak (``dev``), lint a realm file, apply it.

``lint FILE`` prints one line per finding (``error [rule] client: field: message``) and exits
1 when any is an error; ``--devidp`` adds a warning per thing the embedded dev IdP does not
emulate (the lines ``svcauth devidp`` logs at start-up). ``apply FILE --server URL`` creates
or updates the realm through the Admin REST API; ``--dry-run`` prints the plan only. Secrets
come from the environment through the file's ``${PLACEHOLDERS}`` (``--env-file`` adds a
dotenv file; the process environment wins) and are never printed. Admin credentials:
``KC_BOOTSTRAP_ADMIN_USERNAME``/``_PASSWORD`` or ``KEYCLOAK_ADMIN_USERNAME``/``_PASSWORD``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``svcauth keycloak`` and its sub-commands."""
    p = subparsers.add_parser("keycloak", help="run a local Keycloak, lint or apply a realm file",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="keycloak_command", metavar="SUBCOMMAND", required=True)
    dev = sub.add_parser("dev", help="fetch/start/stop/run a local Keycloak "
                                     "(the same as scripts/keycloak; see 'dev -- --help')",
                         add_help=False)
    dev.add_argument("rest", nargs=argparse.REMAINDER)
    dev.set_defaults(func=run_dev)
    lint = sub.add_parser("lint", help="check a realm-import file against the checklist")
    lint.add_argument("file", metavar="FILE")
    lint.add_argument("--devidp", action="store_true",
                      help="also name what the embedded dev IdP does not emulate (warnings)")
    lint.set_defaults(func=run_lint)
    apply = sub.add_parser("apply", help="create or update a realm from a file (Admin REST API)")
    apply.add_argument("file", metavar="FILE")
    apply.add_argument("--server", required=True, metavar="URL",
                       help="Keycloak base URL, e.g. http://127.0.0.1:8080")
    apply.add_argument("--realm-path", default="", metavar="PATH",
                       help="path prefix: '' (default) or /auth (legacy layout)")
    apply.add_argument("--env-file", metavar="FILE",
                       help="dotenv file with the placeholders' values (environment wins)")
    apply.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    apply.set_defaults(func=run_apply)


def run_dev(args: argparse.Namespace) -> int:
    """Delegate to ``python -m svcauth.keycloak`` (fetch, start, stop, status, run)."""
    from ..keycloak._local_cli import main

    rest = [a for a in args.rest if a != "--"] if args.rest[:1] == ["--"] else args.rest
    return main(rest)


def run_lint(args: argparse.Namespace) -> int:
    """Print the findings; 1 when any is an error."""
    from ..keycloak._lint import ERROR, devidp_findings, has_errors, lint_realm
    from ..keycloak._realm import load_realm_file

    realm = load_realm_file(args.file)
    findings = lint_realm(realm)
    if getattr(args, "devidp", False):
        findings = sorted(findings + devidp_findings(realm))
    for finding in findings:
        print(finding.line())
    errors = sum(f.severity == ERROR for f in findings)
    print(f"{args.file}: {errors} error(s), {len(findings) - errors} warning(s)")
    return 1 if has_errors(findings) else 0


def run_apply(args: argparse.Namespace) -> int:
    """Plan, print, and (unless ``--dry-run``) apply."""
    from .._envfile import load_env_file
    from ..keycloak._admin import AdminClient, AdminCredentials
    from ..keycloak._apply import apply_realm
    from ..keycloak._realm import load_realm_file

    env: dict[str, str] = dict(load_env_file(args.env_file)) if args.env_file else {}
    env.update(os.environ)
    realm = load_realm_file(args.file, env)
    server = args.server.rstrip("/") + ("/" + args.realm_path.strip("/") if args.realm_path.strip("/")
                                        else "")
    with AdminClient(server, AdminCredentials.from_env(env)) as admin:
        changes = apply_realm(admin, realm, dry_run=args.dry_run)
    for change in changes:
        print(change.line())
    if not changes:
        print(f"realm {realm.name}: no changes")
    elif args.dry_run:
        print(f"realm {realm.name}: {len(changes)} change(s) planned (dry run: nothing changed)")
    else:
        print(f"realm {realm.name}: {len(changes)} change(s) applied")
    return 0
