"""MockMart's workers: the parts with no user and no route of their own, each calling with
its own service token.

- :mod:`.outbox_dispatcher`: leases outbox rows and calls notification-service (runs inside
  shop-api's process);
- :mod:`.outbox_relay`: the dispatcher's broker variant, publishing each event to RabbitMQ
  with publisher confirms (:mod:`mockmart.topology` names the exchange and queue);
- :mod:`.order_events` and :mod:`.order_events_app`: the order-events worker, a process of
  its own that consumes with manual acks and calls notification-service;
- :mod:`.cart_reminders`: the scheduled job (``mockmart job cart-reminders``).
"""
