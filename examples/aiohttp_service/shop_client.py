"""shop-api calling notification-service with aiohttp: the token comes from the realm's
token endpoint (client credentials), cached and renewed by svcauth, and is put on every
request by ``BearerAuthMiddleware``.

Configuration: the seed's ``KEYCLOAK_URL``, ``KEYCLOAK_REALM``, ``KEYCLOAK_CLIENT_ID`` and
``KEYCLOAK_CLIENT_SECRET``, plus ``NOTIFICATION_SERVICE_URL``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import aiohttp

from svcauth.aiohttp import BearerAuthMiddleware
from svcauth.caller import from_env


async def open_session(base_url: str,
                       environ: Mapping[str, str] | None = None) -> aiohttp.ClientSession:
    """A session whose every request carries the configured client's token. Keep it for
    the process's life: the token is fetched once and renewed ahead of expiry."""
    tokens = await asyncio.to_thread(from_env, environ)  # discovery blocks: off the loop
    return aiohttp.ClientSession(base_url, middlewares=(BearerAuthMiddleware(tokens),))


async def notify(http: aiohttp.ClientSession, order_id: str) -> tuple[int, Any]:
    """POST one order notification; (status, JSON body)."""
    async with http.post("/api/notifications/order", json={"orderId": order_id}) as response:
        return response.status, await response.json()


async def _main() -> None:
    async with await open_session(os.environ["NOTIFICATION_SERVICE_URL"]) as http:
        print(await notify(http, "o-1"))


if __name__ == "__main__":
    asyncio.run(_main())
