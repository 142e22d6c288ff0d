"""MockMart's HTTP services, a package each: shop-api, inventory-service, payment-service,
notification-service and the storefront.

Each package's ``app.create_app(config, guards=None)`` builds its ASGI app; the guards (which
tokens it admits and which roles each route needs) come from :mod:`mockmart.security` unless
given. A service is started by name through :mod:`mockmart.registry`, never imported by the
system code directly.
"""
