"""The local API Gateway: the REST (HTTP) API and the WebSocket API with its @connections API."""
