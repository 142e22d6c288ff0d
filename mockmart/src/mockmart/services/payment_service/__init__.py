"""payment-service: charges on a user's behalf (exchanged, DPoP-bound tokens)."""
