"""notification-service as an aiohttp app: only shop-api and cart-reminder-job, holding
notification-service's ``notifications:send`` role, may send; ``/healthz`` is open.

Configuration: ``OIDC_ISSUER`` (the realm's issuer URL). Run it with::

    OIDC_ISSUER=http://127.0.0.1:8080/realms/techstore python -m aiohttp.web \\
        -H 127.0.0.1 -P 8082 notification_service:make_app
"""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web

from svcauth.aiohttp import IDENTITY, ServiceAuthMiddleware, public
from svcauth.receiver import Guard, RemoteKeySet, ServicePolicy, Verifier

SENT: web.AppKey[list[dict[str, Any]]] = web.AppKey("sent", list)


async def send_order_notification(request: web.Request) -> web.Response:
    """Record one notification; answers who sent it, as the verified token says."""
    caller = request[IDENTITY]
    order = await request.json()
    request.app[SENT].append({"order": order.get("orderId"), "from": caller.client_id})
    return web.json_response({"queued": True, "from": caller.client_id}, status=202)


@public
async def healthz(request: web.Request) -> web.Response:
    """Liveness: no token needed."""
    return web.json_response({"status": "ok"})


async def make_app(argv: list[str] | None = None, *, issuer: str | None = None) -> web.Application:
    """The app, its key set found through OpenID Connect discovery at ``issuer``."""
    issuer = issuer or os.environ["OIDC_ISSUER"]
    verifier = Verifier(issuer=issuer, audience="notification-service",
                        key_set=await RemoteKeySet.afrom_discovery(issuer))
    policy = ServicePolicy(allowed_clients={"shop-api", "cart-reminder-job"},
                           required_roles={"notification-service:notifications:send"})
    app = web.Application(middlewares=[ServiceAuthMiddleware(Guard(verifier, policy,
                                                                   realm="techstore"))])
    app[SENT] = []
    app.router.add_post("/api/notifications/order", send_order_notification)
    app.router.add_get("/healthz", healthz)
    return app
