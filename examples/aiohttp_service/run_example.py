"""The whole example on one machine, nothing to install beyond svcauth[aiohttp]: the
embedded identity provider serves the repository's techstore realm, notification-service
runs on aiohttp's server, and three callers try it. Exits 0 when every answer is the
expected one.

    python examples/aiohttp_service/run_example.py
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from notification_service import SENT, make_app  # noqa: E402
from shop_client import notify, open_session  # noqa: E402

from svcauth.devidp import DevIdP, load_env_file  # noqa: E402


def _caller_env(idp: DevIdP, env: dict[str, str], client_id: str) -> dict[str, str]:
    secret = env[client_id.upper().replace("-", "_") + "_CLIENT_SECRET"]
    return {"KEYCLOAK_URL": idp.base_url, "KEYCLOAK_REALM": "techstore",
            "KEYCLOAK_CLIENT_ID": client_id, "KEYCLOAK_CLIENT_SECRET": secret}


async def main() -> int:
    env = load_env_file(ROOT / "deploy" / "dev.env")
    with DevIdP(ROOT / "deploy" / "keycloak" / "techstore-realm.json", env=env) as idp:
        app = await make_app(issuer=idp.issuer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        await web.SockSite(runner, sock).start()
        try:
            results = []
            async with await open_session(url, _caller_env(idp, env, "shop-api")) as shop:
                for order in ("o-1", "o-2"):
                    results.append(("shop-api", *await notify(shop, order)))
            async with await open_session(url, _caller_env(idp, env, "reporting-job")) as job:
                results.append(("reporting-job", *await notify(job, "o-3")))
            async with aiohttp.ClientSession(url) as anonymous:
                async with anonymous.post("/api/notifications/order", json={}) as response:
                    results.append(("anonymous", response.status, await response.json()))
                async with anonymous.get("/healthz") as response:
                    results.append(("healthz", response.status, await response.json()))
            recorded = list(app[SENT])
            token_requests = {client: counts.get("client_credentials", 0) for client, counts
                              in idp.stats()["token_requests"].items()}
        finally:
            await runner.cleanup()
            sock.close()
    for who, status, body in results:
        print(f"{who}: {status} {body}")
    print(f"recorded: {recorded}")
    print(f"token requests: {token_requests}")
    expected = [
        ("shop-api", 202, {"queued": True, "from": "shop-api"}),
        ("shop-api", 202, {"queued": True, "from": "shop-api"}),
        ("reporting-job", 403, {"error": "Unauthorized service"}),
        ("anonymous", 401, {"error": "No token provided"}),
        ("healthz", 200, {"status": "ok"}),
    ]
    # One token per caller: shop-api's second call reuses the cached one; the 403 is not retried.
    ok = (results == expected and token_requests == {"shop-api": 1, "reporting-job": 1}
          and recorded == [{"order": "o-1", "from": "shop-api"}, {"order": "o-2", "from": "shop-api"}])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
