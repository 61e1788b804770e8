"""Scheduled jobs (EventBridge): thin wrappers over the core, one module per domain."""
