"""``kstock invoke <LogicalId> [--event FILE|-]``: run one function of the template in this
process, like ``sam local invoke`` without Docker, and print its result as JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from kstock_local.cloud.lambdas.runtime import invoke
from kstock_local.cloud.template import TemplateError, read_template
from kstock_local.stack_state import read_state


def run_invoke(logical_id: str, event_source: str | None, template_path: Path) -> int:
    template = read_template(template_path)
    spec = template.functions.get(logical_id)
    if spec is None:
        known = ", ".join(sorted(template.functions))
        raise TemplateError(f"no function {logical_id} in {template_path} (functions: {known})")
    event: Any = {}
    if event_source == "-":
        event = json.load(sys.stdin)
    elif event_source:
        event = json.loads(Path(event_source).read_text(encoding="utf-8"))
    # A running `kstock up` provides the services; otherwise the function uses the environment as is.
    running = read_state()
    os.environ.update({**(running.environment if running else {}), **spec.environment})
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", spec.name)
    code_dir = (template.path.parent / spec.code_uri).resolve()
    result = invoke(spec.handler, event, spec.name, code_dir, spec.timeout)
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0
