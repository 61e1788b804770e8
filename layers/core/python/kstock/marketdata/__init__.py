"""Market data the REST API serves: last prices, and the refresh of market caps / listed shares
from KIS (MarketDataFunction)."""
