"""Structured JSON logs (aws-lambda-powertools Logger): one JSON object per line, in Lambda and out.

``get_logger("kstock.api")`` everywhere; secrets never go into a log record (Settings masks them).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from kstock.config import get_settings

_loggers: dict[str, Logger] = {}


def get_logger(name: str = "kstock") -> Logger:
    if name not in _loggers:
        _loggers[name] = Logger(service=name, level=get_settings().log_level, use_rfc3339=True)
    return _loggers[name]
