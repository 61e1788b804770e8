"""Local event sources: EventBridge schedules and SQS queues that invoke the template's functions."""
