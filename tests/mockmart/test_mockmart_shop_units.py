"""The shop's pure parts: stock and reservations, payments by key, switches, the shop store's
idempotent orders, per-route counters."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockmart.service_stats import _template, simulated
from mockmart.services.inventory_service.stock import Line, Stock
from mockmart.services.payment_service.app import Charge, Payments
from mockmart.services.shop_api.checkout import SwitchBoard, Switches
from mockmart.services.shop_api.shop_store import SEED_PRODUCTS, ShopStore
from mockmart.storage import open_store


def test_a_reservation_takes_every_line_or_none() -> None:
    stock = Stock(initial=5)
    stock.set_level(2, 1)
    refused, decided = stock.reserve("shop-api", "k1", [Line(1, 3), Line(2, 2)])
    assert (refused.reservation_id, refused.missing, decided) == (None, (2,), True)
    assert (stock.level(1), stock.level(2)) == (5, 1)
    made, _ = stock.reserve("shop-api", "k2", [Line(1, 3), Line(1, 2)])
    assert made.reservation_id is not None and stock.level(1) == 0


def test_the_same_key_gets_the_same_answer_and_takes_stock_once() -> None:
    stock = Stock(initial=10)
    first, decided = stock.reserve("shop-api", "order-1:reserve", [Line(7, 4)])
    again, decided_again = stock.reserve("shop-api", "order-1:reserve", [Line(7, 4)])
    assert (again, decided, decided_again) == (first, True, False)
    assert stock.level(7) == 6
    other_caller, _ = stock.reserve("other", "order-1:reserve", [Line(7, 4)])
    assert other_caller.reservation_id != first.reservation_id  # keys are per caller


def test_release_gives_units_back_once() -> None:
    stock = Stock(initial=10)
    made, _ = stock.reserve("shop-api", "k", [Line(1, 4)])
    assert made.reservation_id is not None
    assert [stock.release(made.reservation_id) for _ in range(2)] == [
        "released", "already_released"]
    assert stock.level(1) == 10
    assert stock.release("res_unknown") == "unknown"
    assert stock.counts() == {"reservations": 1, "released": 1}


def test_forced_out_of_stock_names_every_product() -> None:
    result, _ = Stock().reserve("shop-api", "k", [Line(3, 1), Line(1, 1)],
                                force_out_of_stock=True)
    assert result.json()["error"] == "out_of_stock" and result.missing == (1, 3)


def test_a_charge_is_made_once_per_user_and_key() -> None:
    payments = Payments()
    body = Charge(orderId="ord_1", amount_cents=500)
    first = payments.charge("mario", "shop-api", "k", body, decline=False)
    again = payments.charge("mario", "shop-api", "k", body, decline=True)
    assert again == first and first[0] == 201
    assert (first[1]["user"], first[1]["actor"]) == ("mario", "shop-api")
    declined = payments.charge("mario", "shop-api", "k2", body, decline=True)
    assert declined[0] == 402 and declined[1]["error"] == "payment_declined"
    assert (payments.captured, payments.declined) == (1, 1)


def test_switches_update_only_what_is_named() -> None:
    board = SwitchBoard()
    assert board.update(payment_fails=True) == Switches(payment_fails=True)
    assert board.update(slow_ms=50).json() == {"out_of_stock": False, "payment_fails": True,
                                               "slow_ms": 50}
    assert board.get().simulate() == ("payment_fails",)


@pytest.mark.parametrize(("demo", "header", "wanted"), [
    ("1", "payment_fails", True),
    ("1", "out_of_stock, payment_fails", True),
    ("1", "out_of_stock", False),
    ("", "payment_fails", False),   # outside demo mode the header means nothing
    ("0", "payment_fails", False),
])
def test_simulation_is_honoured_in_demo_mode_only(monkeypatch: pytest.MonkeyPatch, demo: str,
                                                  header: str, wanted: bool) -> None:
    monkeypatch.setenv("MOCKMART_DEMO", demo)
    assert simulated({"mockmart-simulate": header}, "payment_fails") is wanted


def test_route_counters_fold_ids() -> None:
    assert _template("/api/inventory/reservations/res_abc/release") == \
        "/api/inventory/reservations/{id}/release"
    assert _template("/api/products/12") == "/api/products/{id}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_orders_are_per_user_and_idempotent_per_key(tmp_path: Path, backend: str,
                                                    request: pytest.FixtureRequest) -> None:
    url = (f"sqlite:///{tmp_path / 'shop.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url"))
    shop = ShopStore(open_store(url))
    assert len(shop.products()) == len(SEED_PRODUCTS)
    lines = [{"productId": 1, "name": "Mock Widget", "quantity": 1, "price_cents": 1999}]
    first, new = shop.begin_order("mario", "m@example.com", "k", lines, 1999)
    again, new_again = shop.begin_order("mario", "m@example.com", "k", lines, 1999)
    theirs, theirs_new = shop.begin_order("admin", "a@example.com", "k", lines, 1999)
    assert (new, new_again, theirs_new) == (True, False, True)
    assert again.order_id == first.order_id != theirs.order_id
    shop.finish_order(first.order_id, "confirmed", "m@example.com")
    assert [o.status for o in shop.orders("mario")] == ["confirmed"]
    assert shop.store.outbox_stats()["pending"] == 1
    shop.abandon_order(theirs.order_id)  # its key is free again
    fresh, fresh_new = shop.begin_order("admin", "a@example.com", "k", lines, 1999)
    assert fresh_new and fresh.order_id != theirs.order_id
