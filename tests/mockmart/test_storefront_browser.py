"""The storefront in a real browser (Debian's Chromium through Playwright), on the embedded
provider and on real Keycloak (``running_stack`` runs each test on both): mario logs in,
buys two products and gets the e-mail; ``blocked`` sees the refusal; ``admin`` edits a
product and mario is refused the admin page; logout ends the session.

Screenshots of the main pages go to ``<basetemp>/artifacts/storefront/`` (printed with
``-s``); ``docs/img/storefront.png`` is one of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from browser_support import chromium_page
from mockmart.system.smtp_sink import read_mailbox

pytestmark = pytest.mark.browser

PASSWORDS = {"mario": "MARIO_PASSWORD", "blocked": "BLOCKED_PASSWORD", "admin": "ADMIN_PASSWORD"}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go."""
    folder = tmp_path_factory.getbasetemp() / "artifacts" / "storefront"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(running_stack: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test."""
    with chromium_page() as fresh:
        fresh.set_default_timeout(20_000)
        yield fresh


def _idp_name(stack: Any) -> str:
    return "dev" if stack.dev else "keycloak"


def _login(page: Any, stack: Any, user: str, next_path: str = "/") -> None:
    """From the storefront's login link through the provider's form, back to ``next_path``."""
    front = stack.storefront.url
    page.goto(f"{front}/login?next={next_path}")
    assert page.url.startswith(stack.idp.issuer + "/protocol/openid-connect/auth"), page.url
    page.fill("#username", user)
    page.fill("#password", stack.options.env[PASSWORDS[user]])
    page.click("#kc-login")
    page.wait_for_url(re.compile(re.escape(front) + r"/.*"))
    assert page.text_content("#who") is not None and f"({user})" in page.text_content("#who")


def _add_products(page: Any, count: int) -> list[str]:
    names = []
    for i in range(count):
        card = page.locator(".product").nth(i)
        names.append(card.locator("h3").inner_text())
        card.locator("button.add").click()
        page.wait_for_load_state()
    return names


def _mail_for(stack: Any, order_id: str, deadline: float = 60.0) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for message in read_mailbox(stack.mail_dir):
            if message["X-MockMart-Order"] == order_id:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no e-mail for order {order_id} within {deadline:.0f} s")


def test_mario_buys_two_products_and_gets_the_email(running_stack: Any, page: Any,
                                                    shots: Path) -> None:
    stack, idp = running_stack, _idp_name(running_stack)
    page.goto(stack.storefront.url + "/login?next=/")
    page.screenshot(path=str(shots / f"{idp}-login.png"))
    _login(page, stack, "mario")
    page.screenshot(path=str(shots / f"{idp}-products.png"), full_page=True)
    names = _add_products(page, 2)
    assert page.inner_text("#cart-link") == "Cart (2)"
    page.goto(stack.storefront.url + "/cart")
    assert [r.inner_text() for r in page.locator("#cart tr td:first-child").all()] == names
    page.screenshot(path=str(shots / f"{idp}-cart.png"))
    page.click("#to-checkout")
    page.screenshot(path=str(shots / f"{idp}-checkout.png"))
    with page.expect_response(lambda r: r.url.endswith("/checkout")
                              and r.request.method == "POST") as posted:
        page.click("#place-order")
    assert posted.value.status == 303
    page.wait_for_selector("#confirmation")
    assert page.url == stack.storefront.url + "/orders/confirmation"
    order_id = page.inner_text("#order-id")
    assert "is confirmed" in page.inner_text("#confirmation h1")
    page.screenshot(path=str(shots / f"{idp}-confirmation.png"))
    mail = _mail_for(stack, order_id)
    assert (mail["To"], mail["Subject"]) == ("mario@example.com", f"Your MockMart order {order_id}")
    page.click("text=See all your orders")
    assert order_id in page.inner_text("#orders")
    page.screenshot(path=str(shots / f"{idp}-orders.png"))
    assert page.inner_text("#cart-link") == "Cart (0)"


def test_blocked_sees_the_checkout_refusal(running_stack: Any, page: Any, shots: Path) -> None:
    stack = running_stack
    _login(page, stack, "blocked")
    _add_products(page, 1)
    page.goto(stack.storefront.url + "/checkout")
    with page.expect_response(lambda r: r.url.endswith("/checkout")
                              and r.request.method == "POST") as posted:
        page.click("#place-order")
    assert posted.value.status == 403
    assert page.inner_text("#refused h1") == "Checkout is not allowed for your account"
    assert "checkout_not_allowed" in page.inner_text("#refused")
    assert page.inner_text("#cart-link") == "Cart (1)"  # the cart is kept
    page.screenshot(path=str(shots / f"{_idp_name(stack)}-blocked.png"))


def test_admin_edits_a_product(running_stack: Any, page: Any, shots: Path) -> None:
    stack = running_stack
    _login(page, stack, "admin")
    page.click("#admin-link")
    row = page.locator(".admin-product").first
    product_id = row.get_attribute("data-id")
    new_name = f"Edited by admin {time.time_ns() % 100000}"
    page.fill(f"input[form='edit-{product_id}'][name='name']", new_name)
    page.locator(f"#edit-{product_id} button").click()
    page.wait_for_selector("#notice")
    assert page.inner_text("#notice") == f"Product {product_id} saved."
    page.screenshot(path=str(shots / f"{_idp_name(stack)}-admin.png"), full_page=True)
    stored = httpx.get(f"{stack.shop.url}/api/products/{product_id}", timeout=10).json()
    assert stored["name"] == new_name


def test_mario_is_refused_the_admin_page(running_stack: Any, page: Any) -> None:
    stack = running_stack
    _login(page, stack, "mario")
    assert page.locator("#admin-link").count() == 0
    response = page.goto(stack.storefront.url + "/admin")
    assert response.status == 403
    assert page.inner_text("#message h1") == "Forbidden"


def test_logout_ends_the_session_here_and_at_the_provider(running_stack: Any, page: Any) -> None:
    stack = running_stack
    front = stack.storefront.url
    _login(page, stack, "mario", "/orders")
    assert page.url == front + "/orders"
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "mockmart_session"]
    page.click("#logout")
    page.wait_for_url(front + "/")
    assert page.locator("#login").count() == 1
    assert [c for c in page.context.cookies() if c["name"] == "mockmart_session"] == []
    page.go_back()  # the orders page was no-store: it is asked for again, and refused
    page.wait_for_load_state()
    assert not page.url.startswith(front + "/orders"), page.url
    page.goto(front + "/orders")  # a protected page asks to log in again, at the provider
    assert page.url.startswith(stack.idp.issuer + "/protocol/openid-connect/auth"), page.url
    assert page.locator("#kc-form-login").count() == 1  # no SSO session left either
    # the old cookie names no session any more
    old = httpx.get(front + "/orders", cookies={"mockmart_session": cookie["value"]}, timeout=10)
    assert (old.status_code, old.headers["location"]) == (303, "/login?next=%2Forders")
