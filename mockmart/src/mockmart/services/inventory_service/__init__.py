"""inventory-service: stock per product, check / reserve / release (role-authorized)."""
