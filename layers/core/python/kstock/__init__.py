"""kstock core: the domain library shared by the Lambda functions, the streamer and the local runtime."""

__version__ = "0.1.0"
