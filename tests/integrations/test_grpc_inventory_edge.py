"""The MockMart edge over gRPC: shop-api reserves stock at inventory-service with its real
service token from the embedded provider (the realm file's roles and audience), sent by
svcauth's call credentials over a local channel; sync and grpc.aio on both ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import httpx
import pytest
from grpc_kit import (
    CHECK,
    DENIED,
    OK,
    RESERVE,
    RESERVE_ROLE,
    UNAUTH,
    Stock,
    aio_server,
    call,
    dumps,
    inventory_guards,
    inventory_handlers,
    loads,
    sync_server,
)

from svcauth.caller import CachingTokenSource, ClientConfig, ClientCredentialsSource, ClientSecretBasic
from svcauth.devidp import DevIdP, load_env_file
from svcauth.grpc import (
    AsyncServiceAuthInterceptor,
    ServiceAuthInterceptor,
    TokenCallCredentials,
    call_metadata,
    local_channel_credentials,
)
from svcauth.receiver import RemoteKeySet, Verifier

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "techstore-realm.json"
ENV = load_env_file(ROOT / "deploy" / "dev.env")


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdP]:
    with DevIdP(REALM_FILE, env=ENV) as provider:
        yield provider


def _verifier(idp: DevIdP) -> Verifier:
    return Verifier(issuer=idp.issuer, audience="inventory-service",
                    key_set=RemoteKeySet(idp.jwks_uri, issuer=idp.issuer))


def _tokens(idp: DevIdP, client_id: str = "shop-api", secret: str | None = None) -> CachingTokenSource:
    var = client_id.upper().replace("-", "_") + "_CLIENT_SECRET"
    config = ClientConfig(client_id=client_id, auth=ClientSecretBasic(secret or ENV[var]),
                          token_endpoint=idp.token_endpoint)
    return CachingTokenSource(ClientCredentialsSource(config))


def _token_requests(idp: DevIdP, client_id: str) -> int:
    return int(idp.stats()["token_requests"].get(client_id, {}).get("client_credentials", 0))


@pytest.fixture(params=["sync", "aio"])
def inventory(request: pytest.FixtureRequest, idp: DevIdP) -> Iterator[tuple[str, Stock]]:
    stock = Stock()
    guards = inventory_guards(_verifier(idp))
    if request.param == "sync":
        with sync_server(inventory_handlers(stock), [ServiceAuthInterceptor(guards)]) as address:
            yield address, stock
    else:
        with aio_server(lambda: inventory_handlers(stock, aio=True),
                        lambda: [AsyncServiceAuthInterceptor(guards)]) as address:
            yield address, stock


def test_shop_api_checks_and_reserves_with_its_real_token(idp: DevIdP,
                                                           inventory: tuple[str, Stock]) -> None:
    address, stock = inventory
    idp.reset_stats()
    tokens = _tokens(idp)
    with grpc.secure_channel(address, local_channel_credentials(tokens)) as channel:
        checked = call(channel, CHECK, {"sku": "sku-1"})
        first = call(channel, RESERVE, {"sku": "sku-1", "quantity": 2})
        second = call(channel, RESERVE, {"sku": "sku-1", "quantity": 2})
        third = call(channel, RESERVE, {"sku": "sku-1", "quantity": 2})
    assert (checked.code, checked.response) == (OK, {"sku": "sku-1", "available": 5})
    assert (first.code, first.response) == (OK, {"reserved": True, "by": "shop-api", "available": 3})
    assert (second.code, second.response) == (OK, {"reserved": True, "by": "shop-api", "available": 1})
    assert (third.code, third.response) == (OK, {"reserved": False, "available": 1})
    assert stock.reservations == [("shop-api", "sku-1", 2), ("shop-api", "sku-1", 2)]
    assert _token_requests(idp, "shop-api") == 1  # four calls, one token (cached)


def test_aio_channel_takes_the_token_from_atoken_on_the_loop(idp: DevIdP,
                                                             inventory: tuple[str, Stock]) -> None:
    address, stock = inventory
    idp.reset_stats()
    tokens = _tokens(idp)
    sync_calls: list[str] = []
    tokens.token = lambda: sync_calls.append("token") or ""  # type: ignore[assignment,func-returns-value]

    async def main() -> list[Any]:
        credentials = local_channel_credentials(tokens, aio=True)
        async with grpc.aio.secure_channel(address, credentials) as channel:
            reserve = channel.unary_unary(RESERVE, request_serializer=dumps,
                                          response_deserializer=loads)
            check = channel.unary_unary(CHECK, request_serializer=dumps,
                                        response_deserializer=loads)
            return list(await asyncio.gather(reserve({"sku": "sku-1", "quantity": 1}),
                                             reserve({"sku": "sku-1", "quantity": 1}),
                                             check({"sku": "sku-1"})))

    first, second, checked = asyncio.run(main())
    assert {first["available"], second["available"]} == {3, 4}
    assert (first["by"], second["by"]) == ("shop-api", "shop-api")
    assert checked["sku"] == "sku-1"
    assert sync_calls == []
    assert stock.reservations == [("shop-api", "sku-1", 1), ("shop-api", "sku-1", 1)]
    assert _token_requests(idp, "shop-api") == 1  # three concurrent calls, one fetch


def test_a_token_without_the_reserve_role_may_check_but_not_reserve(
        idp: DevIdP, inventory: tuple[str, Stock]) -> None:
    address, stock = inventory
    read_only = idp.mint_token("shop-api", extra_claims={
        "resource_access": {"inventory-service": {"roles": ["inventory:read"]}}})
    metadata = list(call_metadata(read_only, service_url="", method_name=""))
    with grpc.insecure_channel(address) as channel:
        checked = call(channel, CHECK, {"sku": "sku-1"}, metadata=metadata)
        refused = call(channel, RESERVE, {"sku": "sku-1", "quantity": 1}, metadata=metadata)
    assert checked.code == OK
    assert (refused.code, refused.details, refused.trailing) == (
        DENIED, "Insufficient scope",
        (("svcauth-error", "insufficient_scope"),
         ("www-authenticate", 'Bearer realm="techstore", error="insufficient_scope", '
          'error_description="The access token lacks a required role or scope", '
          f'scope="{RESERVE_ROLE}"')))
    assert stock.reservations == []


def test_a_client_whose_token_is_not_for_inventory_service_is_unauthenticated(
        idp: DevIdP, inventory: tuple[str, Stock]) -> None:
    """cart-reminder-job's real token names notification-service, not inventory-service."""
    address, stock = inventory
    with grpc.secure_channel(address, local_channel_credentials(_tokens(idp, "cart-reminder-job"))) as ch:
        refused = call(ch, RESERVE, {"sku": "sku-1", "quantity": 1})
    assert (refused.code, refused.details, refused.trailer("svcauth-error")) == (
        UNAUTH, "Invalid token", "audience_mismatch")
    assert stock.reservations == []


def test_a_caller_that_cannot_get_a_token_fails_before_sending(
        idp: DevIdP, inventory: tuple[str, Stock], caplog: pytest.LogCaptureFixture) -> None:
    address, _stock = inventory
    tokens = _tokens(idp, secret="not-the-secret")
    with caplog.at_level(logging.DEBUG), \
            grpc.secure_channel(address, local_channel_credentials(tokens)) as ch:
        refused = call(ch, CHECK, {"sku": "sku-1"})
    assert refused.code == grpc.StatusCode.UNAVAILABLE
    assert refused.details is not None and "unauthorized_client" in refused.details
    assert "not-the-secret" not in refused.details + caplog.text
    assert refused.trailer("svcauth-error") is None  # the server never saw the call


def test_plugin_puts_exactly_one_bearer_entry() -> None:
    class Source:
        def token(self) -> str:
            return "abc.def.ghi"

    got: list[Any] = []

    class Context:
        service_url = "https://inventory:443/mockmart.inventory.v1.Inventory"
        method_name = "Reserve"

    TokenCallCredentials(Source())(Context(), lambda md, err: got.append((md, err)))  # type: ignore[arg-type]
    assert got == [((("authorization", "Bearer abc.def.ghi"),), None)]


def test_the_realm_grants_shop_api_both_inventory_roles(idp: DevIdP) -> None:
    response = httpx.post(idp.token_endpoint, data={
        "grant_type": "client_credentials", "client_id": "shop-api",
        "client_secret": ENV["SHOP_API_CLIENT_SECRET"]}, timeout=10)
    claims = _verifier(idp).verify(response.json()["access_token"])
    assert "inventory-service" in claims["aud"]
    assert claims["resource_access"]["inventory-service"] == {
        "roles": ["inventory:read", "inventory:reserve"]}
