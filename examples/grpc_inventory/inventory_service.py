"""inventory-service over gRPC, guarded by svcauth (server side of the example).

    OIDC_ISSUER=http://127.0.0.1:PORT/realms/techstore python inventory_service.py [--aio]

Listens on 127.0.0.1 (``--port``, default a free one) and prints ``listening 127.0.0.1:PORT``.
Reserve needs the client role ``inventory-service:inventory:reserve``, Check
``inventory-service:inventory:read``; Restock is served but listed in no guard table, so it
is refused (secure by default: a method nobody decided about is closed).

Messages are JSON through gRPC's generic handlers: no .proto or generated stubs, so the
example runs with ``pip install 'svcauth[grpc]'`` alone. With protobuf stubs, pass
``add_InventoryServicer_to_server`` as usual: the interceptor does not change.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc.aio

from svcauth.grpc import (
    AsyncServiceAuthInterceptor,
    MethodGuards,
    ServiceAuthInterceptor,
    current_identity,
)
from svcauth.receiver import RemoteKeySet, ServicePolicy, Verifier

SERVICE = "mockmart.inventory.v1.Inventory"
STOCK = {"sku-1": 5, "sku-2": 0}
LOCK = threading.Lock()


def guards() -> MethodGuards:
    """Who may call which method: shop-api, with the method's role."""
    issuer = os.environ["OIDC_ISSUER"]
    verifier = Verifier(issuer=issuer, audience="inventory-service",
                        key_set=RemoteKeySet.from_discovery(issuer))
    return MethodGuards({
        f"/{SERVICE}/Reserve": ServicePolicy(allowed_clients=("shop-api",),
                                             required_roles={"inventory-service:inventory:reserve"}),
        f"/{SERVICE}/Check": ServicePolicy(allowed_clients=("shop-api",),
                                           required_roles={"inventory-service:inventory:read"}),
    }, verifier=verifier, realm="techstore")


def check(request: dict[str, Any]) -> dict[str, Any]:
    with LOCK:
        return {"sku": request["sku"], "available": STOCK.get(request["sku"], 0)}


def reserve(request: dict[str, Any]) -> dict[str, Any]:
    caller = current_identity().client_id  # the verified caller, never a header
    with LOCK:
        have = STOCK.get(request["sku"], 0)
        if have < request["quantity"]:
            return {"reserved": False, "available": have}
        STOCK[request["sku"]] = have - request["quantity"]
        return {"reserved": True, "by": caller, "available": have - request["quantity"]}


def restock(request: dict[str, Any]) -> dict[str, Any]:
    with LOCK:
        STOCK[request["sku"]] = STOCK.get(request["sku"], 0) + request["quantity"]
        return {"sku": request["sku"], "available": STOCK[request["sku"]]}


def handlers(aio: bool) -> grpc.GenericRpcHandler:
    kw = {"request_deserializer": json.loads,
          "response_serializer": lambda m: json.dumps(m).encode()}
    if aio:
        async def a_check(request: Any, context: Any) -> Any:
            return check(request)

        async def a_reserve(request: Any, context: Any) -> Any:
            return reserve(request)
        async def a_restock(request: Any, context: Any) -> Any:
            return restock(request)
        methods = {"Check": a_check, "Reserve": a_reserve, "Restock": a_restock}
    else:
        methods = {"Check": lambda r, c: check(r), "Reserve": lambda r, c: reserve(r),
                   "Restock": lambda r, c: restock(r)}
    return grpc.method_handlers_generic_handler(SERVICE, {
        name: grpc.unary_unary_rpc_method_handler(fn, **kw) for name, fn in methods.items()})


def serve_sync(port: int) -> None:
    server = grpc.server(ThreadPoolExecutor(max_workers=8),
                         interceptors=[ServiceAuthInterceptor(guards())])
    server.add_generic_rpc_handlers((handlers(aio=False),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print(f"listening 127.0.0.1:{bound}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop(2).wait(5)


async def serve_aio(port: int) -> None:
    server = grpc.aio.server(interceptors=[AsyncServiceAuthInterceptor(guards())])
    server.add_generic_rpc_handlers((handlers(aio=True),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"listening 127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--aio", action="store_true", help="serve with grpc.aio")
    args = parser.parse_args()
    if args.aio:
        asyncio.run(serve_aio(args.port))
    else:
        serve_sync(args.port)


if __name__ == "__main__":
    main()
