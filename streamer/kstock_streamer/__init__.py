"""The streamer: kstock's one long-lived container (KIS WebSocket ingest -> Redis -> fan-out to API
Gateway WebSocket connections, and the tick writer into Postgres). ``python -m kstock_streamer``."""
