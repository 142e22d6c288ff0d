"""MockMart's scheduled jobs (no user involved: each runs with its own service token)."""
