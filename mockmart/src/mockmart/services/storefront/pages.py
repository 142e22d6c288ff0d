"""The shop's pages: products (search, categories), cart, checkout, confirmation, order
history, admin product management. Every POST form carries the session's CSRF token."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from mockmart.services.storefront.app import Storefront

__all__ = ["page_routes"]

_REFUSED = ("Refused", "This form is not from this session (CSRF token missing or wrong).")


def _price(cents: Any) -> str:
    try:
        return f"€{int(cents) / 100:.2f}"
    except (TypeError, ValueError):
        return "?"


def _quantity(raw: str | None, fallback: int = 1) -> int:
    try:
        value = int(raw or fallback)
    except ValueError:
        return fallback
    return max(0, min(value, 99))


def page_routes(front: Storefront) -> list[Route]:
    """The page routes bound to ``front``."""

    async def catalog() -> dict[str, Any]:
        answer = await front.shop.products()
        return {str(p["id"]): p for p in answer.body.get("products", [])}

    async def home(request: Request) -> Response:
        session = front.session(request)
        q = request.query_params.get("q", "")[:100]
        category = request.query_params.get("category", "")[:60]
        answer = await front.shop.products(q, category)
        if answer.status != 200:
            return front.message(session, 503, "The shop is unavailable", answer.message)
        return front.render("products.html", session, products=answer.body.get("products", []),
                            categories=answer.body.get("categories", []), q=q,
                            category=category, price=_price)

    async def cart(request: Request) -> Response:
        session = front.session(request)
        if request.method == "POST":
            session = session or front.sessions.create()
            fields = await front.form(request, session)
            if fields is None:
                return front.message(session, 403, *_REFUSED)
            pid = fields.get("productId", "")[:100]
            if pid:
                n = _quantity(fields.get("quantity"))
                if fields.get("action") == "set":
                    session.cart[pid] = n
                else:
                    session.cart[pid] = min(session.cart.get(pid, 0) + n, 99)
                if session.cart[pid] == 0:
                    del session.cart[pid]
                session.checkout_key = ""  # a different cart is a different checkout
            back = "/" if fields.get("back") == "products" else "/cart"
            return front.with_cookie(RedirectResponse(back, 303), session)
        lines, total = await _lines(session.cart if session else {})
        return front.render("cart.html", session, lines=lines, total=total, price=_price)

    async def _lines(items: dict[str, int]) -> tuple[list[dict[str, Any]], int]:
        known = await catalog() if items else {}
        lines = []
        for pid, n in items.items():
            product = known.get(pid, {"id": pid, "name": f"product {pid}", "price_cents": 0})
            lines.append({"product": product, "quantity": n,
                          "cents": int(product.get("price_cents") or 0) * n})
        return lines, sum(line["cents"] for line in lines)

    async def checkout(request: Request) -> Response:
        session = front.session(request)
        if session is None or not session.logged_in:
            return front.login_redirect(request)
        if request.method == "GET":
            if not session.checkout_key:
                session.checkout_key = secrets.token_urlsafe(16)
            lines, total = await _lines(session.cart)
            return front.render("checkout.html", session, lines=lines, total=total,
                                price=_price)
        fields = await front.form(request, session)
        if fields is None:
            return front.message(session, 403, *_REFUSED)
        if not session.cart:
            return front.with_cookie(RedirectResponse("/cart", 303), session)
        key = session.checkout_key or secrets.token_urlsafe(16)
        session.checkout_key = key
        items = dict(session.cart)
        answer = await front.call(session, lambda t: front.shop.checkout(t, items, key))
        if answer is None:
            return front.login_redirect(request)
        if answer.status in (200, 201):
            session.last_order, session.cart, session.checkout_key = answer.body, {}, ""
            return front.with_cookie(RedirectResponse("/orders/confirmation", 303), session)
        if answer.status == 403:
            return front.render("refused.html", session, 403, text=answer.message,
                                code=answer.body.get("error", ""))
        titles = {409: "Out of stock", 402: "Payment failed"}
        return front.message(session, answer.status if answer.status >= 400 else 502,
                             titles.get(answer.status, "Checkout failed"), answer.message)

    async def confirmation(request: Request) -> Response:
        session = front.session(request)
        if session is None or not session.logged_in:
            return front.login_redirect(request)
        if session.last_order is None:
            return front.with_cookie(RedirectResponse("/orders", 303), session)
        return front.render("confirmation.html", session, order=session.last_order,
                            price=_price)

    async def orders(request: Request) -> Response:
        session = front.session(request)
        if session is None or not session.logged_in:
            return front.login_redirect(request)
        answer = await front.call(session, front.shop.orders)
        if answer is None:
            return front.login_redirect(request)
        if answer.status != 200:
            return front.message(session, 502, "Orders unavailable", answer.message)
        return front.render("orders.html", session, orders=answer.body.get("orders", []),
                            price=_price)

    async def admin(request: Request) -> Response:
        session = front.session(request)
        if session is None or not session.logged_in:
            return front.login_redirect(request)
        if not front.is_admin(session):
            return front.message(session, 403, "Forbidden", "Product management is for the "
                                 "shop's administrators (realm role admin).")
        notice = ""
        if request.method == "POST":
            fields = await front.form(request, session)
            if fields is None:
                return front.message(session, 403, *_REFUSED)
            try:
                body = {"name": fields["name"][:200], "description": fields.get(
                        "description", "")[:2000], "category": fields.get("category", "")[:60],
                        "price_cents": int(fields["price_cents"])}
            except (KeyError, ValueError):
                return front.message(session, 400, "Not saved",
                                     "A product needs a name and a whole price in cents.")
            pid = request.path_params.get("product_id")
            answer = await front.call(session, lambda t: front.shop.save_product(t, pid, body))
            if answer is None:
                return front.login_redirect(request)
            if answer.status not in (200, 201):
                return front.message(session, answer.status, "Not saved", answer.message)
            return front.with_cookie(RedirectResponse("/admin?saved=" + str(
                answer.body.get("id", pid or "")), 303), session)
        saved = request.query_params.get("saved", "")[:100]
        if saved:
            notice = f"Product {saved} saved."
        products = (await front.shop.products()).body.get("products", [])
        return front.render("admin.html", session, products=products, notice=notice,
                            price=_price)

    return [Route("/", home), Route("/cart", cart, methods=["GET", "POST"]),
            Route("/checkout", checkout, methods=["GET", "POST"]),
            Route("/orders/confirmation", confirmation), Route("/orders", orders),
            Route("/admin", admin, methods=["GET"]),
            Route("/admin/products", admin, methods=["POST"]),
            Route("/admin/products/{product_id}", admin, methods=["POST"])]
