"""A user's portfolio: holdings valued at the live price (seed 002)."""
