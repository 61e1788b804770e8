"""The Lambda code behind ``app.py`` (Chalice's multifile convention): HTTP plumbing, the OpenAPI
document, REST routes, and the WebSocket, job and queue handlers."""
