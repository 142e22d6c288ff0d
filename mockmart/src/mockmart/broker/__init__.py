"""MockMart on a real broker: a local RabbitMQ node trusting the identity provider's tokens
(:mod:`.node`), the order-events topology (:mod:`.topology`), the outbox relay that publishes
with publisher confirms (:mod:`.relay`) and the worker that consumes with manual acks
(:mod:`.worker`)."""
