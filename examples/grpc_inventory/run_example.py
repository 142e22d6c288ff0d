"""Run the whole example on loopback: the embedded identity provider (the repo's realm and
dev.env), inventory-service, then shop-api's calls, then the same calls by cart-reminder-job
(whose token is not meant for inventory-service); everything stops at the end.

    python examples/grpc_inventory/run_example.py [--aio]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from svcauth.devidp import DevIdP, load_env_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aio", action="store_true", help="grpc.aio on both ends")
    args = parser.parse_args()
    extra = ["--aio"] if args.aio else []
    env_file = load_env_file(ROOT / "deploy" / "dev.env")
    with DevIdP(ROOT / "deploy" / "keycloak" / "techstore-realm.json", env=env_file) as idp:
        env = {**os.environ, "OIDC_ISSUER": idp.issuer}
        command = [sys.executable, str(HERE / "inventory_service.py"), *extra]
        server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
        try:
            assert server.stdout is not None
            line = server.stdout.readline().strip()
            if not line.startswith("listening "):
                print(f"inventory-service did not start: {line!r}", file=sys.stderr)
                return 1
            target = line.split(" ", 1)[1]
            print(f"inventory-service on {target} ({'grpc.aio' if args.aio else 'grpc'})",
                  flush=True)
            for client_id in ("shop-api", "cart-reminder-job"):
                secret = env_file[client_id.upper().replace("-", "_") + "_CLIENT_SECRET"]
                print(f"as {client_id}:", flush=True)
                client = subprocess.run(  # noqa: S603 - our own scripts
                    [sys.executable, str(HERE / "shop_client.py"), target, *extra],
                    env={**env, "KEYCLOAK_CLIENT_ID": client_id, "KEYCLOAK_CLIENT_SECRET": secret},
                    timeout=60, check=False)
                if client.returncode != 0:
                    return client.returncode
            return 0
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


if __name__ == "__main__":
    sys.exit(main())
