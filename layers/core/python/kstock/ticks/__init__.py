"""Ticks: raw trade storage (day partitions), OHLCV roll-ups, retention."""
