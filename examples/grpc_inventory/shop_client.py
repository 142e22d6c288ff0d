"""shop-api calling inventory-service over gRPC with its service token (client side).

    KEYCLOAK_CLIENT_ID=shop-api KEYCLOAK_CLIENT_SECRET=... OIDC_ISSUER=... \
        python shop_client.py 127.0.0.1:PORT [--aio]

The token comes from ``svcauth.caller.from_env()`` (cached, refreshed ahead of expiry) and
rides on every call through svcauth's call credentials. The channel uses
``grpc.local_channel_credentials()``: gRPC sends call credentials only over a secure channel,
and counts a loopback connection as one. Across machines use
``channel_credentials(tokens)`` (TLS) instead.

Prints one JSON line per call: the method, the gRPC status, the response or the
``svcauth-error`` trailer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import grpc
import grpc.aio

from svcauth.caller import from_env
from svcauth.grpc import local_channel_credentials

SERVICE = "mockmart.inventory.v1.Inventory"
CALLS = [("Check", {"sku": "sku-1"}), ("Reserve", {"sku": "sku-1", "quantity": 2}),
         ("Reserve", {"sku": "sku-1", "quantity": 4}), ("Restock", {"sku": "sku-1", "quantity": 9})]


def _line(method: str, code: grpc.StatusCode, body: Any = None, error: str | None = None) -> str:
    return json.dumps({"method": method, "status": code.name, "response": body,
                       "svcauth-error": error})


def _error_code(error: Any) -> str | None:
    # (key, value) pairs in both APIs: sync gives namedtuples, grpc.aio a Metadata object.
    return next((value for key, value in error.trailing_metadata() or ()
                 if key == "svcauth-error"), None)


def run_sync(target: str) -> None:
    tokens = from_env()
    with grpc.secure_channel(target, local_channel_credentials(tokens)) as channel:
        for method, request in CALLS:
            stub = channel.unary_unary(f"/{SERVICE}/{method}",
                                       request_serializer=lambda m: json.dumps(m).encode(),
                                       response_deserializer=json.loads)
            try:
                print(_line(method, grpc.StatusCode.OK, stub(request, timeout=10)), flush=True)
            except grpc.RpcError as error:
                print(_line(method, error.code(), error=_error_code(error)), flush=True)


async def run_aio(target: str) -> None:
    tokens = from_env()
    # aio=True: the token comes from ``await tokens.atoken()`` on this loop.
    credentials = local_channel_credentials(tokens, aio=True)
    async with grpc.aio.secure_channel(target, credentials) as channel:
        for method, request in CALLS:
            stub = channel.unary_unary(f"/{SERVICE}/{method}",
                                       request_serializer=lambda m: json.dumps(m).encode(),
                                       response_deserializer=json.loads)
            try:
                print(_line(method, grpc.StatusCode.OK, await stub(request, timeout=10)),
                      flush=True)
            except grpc.aio.AioRpcError as error:
                print(_line(method, error.code(), error=_error_code(error)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="host:port of inventory-service")
    parser.add_argument("--aio", action="store_true", help="call with grpc.aio")
    args = parser.parse_args()
    if args.aio:
        asyncio.run(run_aio(args.target))
    else:
        run_sync(args.target)


if __name__ == "__main__":
    main()
