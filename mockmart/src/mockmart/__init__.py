"""MockMart: the reference system of svcauth (shop-api, notification-service, jobs)."""
