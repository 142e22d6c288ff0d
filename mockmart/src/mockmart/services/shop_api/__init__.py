"""shop-api: catalog, checkout (fan-out to inventory and payment) and the payment webhook.
Its outbox dispatcher is a worker: :mod:`mockmart.workers.outbox_dispatcher` (see ``app``)."""
