"""Realtime delivery: the WebSocket connection registry and (with the streamer) the fan-out."""
