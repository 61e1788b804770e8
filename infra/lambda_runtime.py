"""Load and invoke Lambda handlers the way the Lambda runtime does: ``module.attribute`` from the
functions directory (the template's CodeUri), called with ``(event, context)``."""

from __future__ import annotations

import importlib
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from infra.paths import FUNCTIONS_DIR


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object handlers use."""

    function_name: str = "local"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-2:000000000000:function:local"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def load_handler(handler: str):
    """``"app.app"`` -> the object Lambda would call."""
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not of the form module.attribute")
    return getattr(importlib.import_module(module_name), attribute)


def invoke(handler: str, event: dict[str, Any], function_name: str = "local") -> Any:
    return load_handler(handler)(event, LambdaContext(function_name=function_name))
