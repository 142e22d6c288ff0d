"""shop-api: checkout, the outbox dispatcher and the payment webhook (see ``app``)."""
