"""``kstock invoke <LogicalId> [--event FILE|-]``: run one function of the template in this
process, like ``sam local invoke`` without Docker, and print its result as JSON."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from kstock.config import Settings
from kstock_local.cloud.lambdas.runtime import invoke
from kstock_local.cloud.template import TemplateError, read_template
from kstock_local.kis_sim.credentials import has_real_key, simulator_environment
from kstock_local.stack_state import StackState, read_state


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
    os.environ.update({**invocation_environment(running), **spec.environment})
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", spec.name)
    code_dir = (template.path.parent / spec.code_uri).resolve()
    result = invoke(spec.handler, event, spec.name, code_dir, spec.timeout)
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


def invocation_environment(running: StackState | None) -> dict[str, str]:
    """The running stack's variables. When it runs the KIS simulator (its KIS_REST_URL is published) and
    this shell has no key of its own, the simulator's placeholder credentials too: stack.json leaves out
    every ``*_APP_KEY`` / ``*_SECRET``, and the core has no fallback."""
    environment = dict(running.environment) if running else {}
    if "KIS_REST_URL" in environment and not has_real_key(Settings()):  # not cached: os.environ changes next
        rest_url = environment["KIS_REST_URL"]
        environment.update(simulator_environment(rest_url, environment.get("KIS_WS_URL", rest_url)))
    return environment
