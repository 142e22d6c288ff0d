"""Building and sending notification e-mails over SMTP (``SMTP_HOST``/``SMTP_PORT``).

The Message-ID is derived from the notification id, which is stable per idempotency key:
if a send is ever repeated (a crash between sending and recording), the repeat carries the
same Message-ID and the receiving mail store can recognise it (the embedded sink does).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

__all__ = ["FROM_ADDRESS", "build_message", "send_message"]

FROM_ADDRESS = "MockMart <notifications@mockmart.test>"


def build_message(*, notification_id: str, kind: str, recipient: str, caller: str,
                  order_id: str | None = None, cart_id: str | None = None) -> EmailMessage:
    """The e-mail for one notification (pure)."""
    msg = EmailMessage()
    msg["From"] = FROM_ADDRESS
    msg["To"] = recipient
    msg["Message-ID"] = f"<{notification_id}@mockmart.test>"
    msg["X-MockMart-Notification"] = notification_id
    msg["X-MockMart-Kind"] = kind
    msg["X-MockMart-Caller"] = caller
    if kind == "order":
        msg["Subject"] = f"Your MockMart order {order_id}"
        msg["X-MockMart-Order"] = str(order_id)
        msg.set_content(f"Thank you for your order {order_id}. It is on its way.\n")
    else:
        msg["Subject"] = "You left something in your MockMart cart"
        if cart_id:
            msg["X-MockMart-Cart"] = cart_id
        msg.set_content("Your cart is waiting for you at MockMart.\n")
    return msg


def send_message(msg: EmailMessage, *, host: str, port: int, timeout: float = 10.0) -> None:
    """Hand ``msg`` to the SMTP server (blocking); raises ``OSError``/``SMTPException``."""
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(msg)
