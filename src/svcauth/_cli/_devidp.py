"""``svcauth devidp``: run the embedded development identity provider until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Register ``svcauth devidp``."""
    p = subparsers.add_parser(
        "devidp",
        help="run the embedded Keycloak-compatible development identity provider",
        description="Serve a Keycloak realm-import file's clients and users with Keycloak's "
                    "paths on a loopback address, for development and tests only.",
    )
    p.add_argument("--realm", required=True, metavar="FILE",
                   help="Keycloak realm-import JSON (e.g. deploy/keycloak/techstore-realm.json)")
    p.add_argument("--env-file", metavar="FILE",
                   help="dotenv file with values for the realm's ${PLACEHOLDERS} "
                        "(e.g. deploy/dev.env); the process environment wins over it")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080, 0 = any free)")
    p.add_argument("--auth-path", default="",
                   help="path prefix such as /auth, as Keycloak before 17 (default none)")
    p.add_argument("--hostname", metavar="URL",
                   help="pin the issuer's base URL like Keycloak's --hostname "
                        "(default: follow each request's Host header, as start-dev)")
    p.add_argument("--rotate-every", type=float, metavar="SECONDS",
                   help="rotate the signing key every SECONDS (old keys stay published)")
    p.add_argument("--insecure-bind-any", action="store_true",
                   help="allow a non-loopback --host (anyone reaching it gets dev tokens)")
    p.set_defaults(func=run)


def _curl_line(idp: Any) -> str | None:
    for client in idp.realm.clients.values():
        if client.service_accounts and not client.public and client.authenticator == \
                "client-secret":
            host = "localhost" if idp.base_url.startswith("http://127.0.0.1:") else None
            url = idp.token_endpoint.replace("127.0.0.1", host, 1) if host else \
                idp.token_endpoint
            return (f"curl -X POST {url} -d grant_type=client_credentials "
                    f"-d client_id={client.client_id} -d client_secret=...")
    return None


def run(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Start the provider and serve until Ctrl-C (or until ``stop`` is set, for tests)."""
    from ..devidp import DevIdP, load_env_file

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    env: dict[str, str] = load_env_file(args.env_file) if args.env_file else {}
    env.update(os.environ)
    idp = DevIdP(args.realm, env=env, host=args.host, port=args.port,
                 auth_path=args.auth_path, insecure_bind_any=args.insecure_bind_any,
                 hostname=args.hostname)
    if args.insecure_bind_any:
        print(f"WARNING: --insecure-bind-any: serving dev credentials on {args.host}, "
              "reachable beyond this machine", file=sys.stderr)
    idp.start()
    stop = stop or threading.Event()
    try:
        print(f"svcauth devidp: realm {idp.realm.name}, issuer {idp.issuer}")
        print("  (without --hostname, iss follows the Host header you call it with)")
        print(f"  token endpoint {idp.token_endpoint}")
        print(f"  jwks {idp.jwks_uri}")
        curl = _curl_line(idp)
        if curl:
            print(f"try: {curl}")
        print("Ctrl-C to stop. Development only: never expose it.", flush=True)
        while not stop.wait(args.rotate_every or 3600.0):
            if args.rotate_every:
                idp.rotate_keys()
    except KeyboardInterrupt:
        pass
    finally:
        idp.stop()
    return 0
