"""Load and invoke Lambda handlers the way the Lambda runtime does: ``module.attribute`` from the
function's code directory (the template's CodeUri), called with ``(event, context)``."""

from __future__ import annotations

import importlib
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kstock_local.paths import FUNCTIONS_DIR


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object handlers use."""

    function_name: str = "local"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-2:123456789012:function:local"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def load_handler(handler: str, code_dir: Path = FUNCTIONS_DIR) -> Any:
    """``"app.app"`` -> the object Lambda would call."""
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not of the form module.attribute")
    return getattr(importlib.import_module(module_name), attribute)


def invoke(
    handler: str,
    event: dict[str, Any],
    function_name: str = "local",
    code_dir: Path = FUNCTIONS_DIR,
    timeout: float = 30.0,
) -> Any:
    context = LambdaContext(function_name=function_name, timeout_seconds=timeout)
    return load_handler(handler, code_dir)(event, context)


def invoke_reporting_errors(
    handler: str, event: dict[str, Any], function_name: str, code_dir: Path, timeout: float
) -> tuple[bool, Any]:
    """Invoke and return ``(True, result)`` or ``(False, error payload)`` as Lambda reports it."""
    try:
        return True, invoke(handler, event, function_name, code_dir, timeout)
    except Exception as exc:  # a handler error is data for the caller, as in Lambda
        return False, {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc),
        }
