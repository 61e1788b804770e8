"""The deploy tools accept template.yaml (issue 12, item 7): `sam validate --lint`, a checkov scan with
no finding left unexplained, and, before a deploy, `sam build`.

checkov and aws-sam-cli pin their own boto3, pydantic, networkx and packaging, so `make tools` installs
each into its own venv under .venv-tools; without them these tests are skipped with that hint.
`sam build` fetches and builds every dependency from PyPI (minutes, ~1.6 GB), so it runs only with
KSTOCK_SAM_BUILD=1 (`make deploy-check`). cfn-lint runs in tests/unit/test_template.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.paths import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "template.yaml"
TOOLS = PROJECT_ROOT / ".venv-tools"
CHECKOV = TOOLS / "checkov" / "bin" / "checkov"
SAM = TOOLS / "sam" / "bin" / "sam"
TOOL_TIMEOUT = 900  # a deadline for a hung tool, not a speed budget
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: a function and all its layers, unzipped

# Findings that hold for every resource of a type, decided once here rather than repeated on each of
# the 25 functions (SAM's Globals cannot carry checkov metadata). Any other finding is fixed, or
# skipped on its own resource in template.yaml (Metadata.checkov.skip) with its reason.
SKIPPED_FOR_EVERY: dict[tuple[str, str], str] = {
    ("AWS::Serverless::Function", "CKV_AWS_115"): (
        "Reserved concurrency is carved out of the account's shared pool and caps a function even when the "
        "account is idle; set it per function once production load is known."
    ),
    ("AWS::Serverless::Function", "CKV_AWS_116"): (
        "A Lambda DLQ only catches failed asynchronous invocations: the SQS workers' messages go to their "
        "queues' dead-letter queues (alarmed), the API and WebSocket handlers are synchronous, and a "
        "scheduled job runs again on its next tick with nothing in its event to replay."
    ),
    ("AWS::Serverless::Function", "CKV_AWS_117"): (
        "The functions reach PostgreSQL and Redis by URL and KIS, Naver, OpenDART and Gemini on the internet; "
        "inside a VPC they need a NAT gateway. With ElastiCache or a private RDS, give Globals a VpcConfig "
        "(README, Deploy to AWS)."
    ),
    ("AWS::Serverless::Function", "CKV_AWS_173"): (
        "Lambda encrypts environment variables at rest with its AWS-managed key; a customer-managed key "
        "($1/month) only narrows who may read them in the console."
    ),
    ("AWS::SQS::Queue", "CKV_AWS_27"): (
        "Every queue is encrypted with SQS's own key (SqsManagedSseEnabled, asserted in "
        "tests/unit/test_template_deploy.py); checkov 3.3 only recognises SSE-KMS, which would need "
        "kms:GenerateDataKey/Decrypt in every producer's and consumer's policy."
    ),
}


def _tool(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path.relative_to(PROJECT_ROOT)} is missing: run `make tools`")
    return path


def _run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SAM_CLI_TELEMETRY": "0", **env}
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
    )


def test_sam_validate_lint_accepts_the_template(tmp_path: Path) -> None:
    command = [str(_tool(SAM)), "validate", "--lint", "--template-file", str(TEMPLATE), "--region", "ap-northeast-2"]
    done = _run(command, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_checkov_leaves_no_finding_unexplained() -> None:
    # --skip-download and BC_SKIP_MAPPING: offline and deterministic (no Prisma Cloud guideline lookups)
    command = [str(_tool(CHECKOV)), "--file", str(TEMPLATE), "--framework", "cloudformation", "--skip-download"]
    done = _run([*command, "--output", "json"], cwd=PROJECT_ROOT, BC_SKIP_MAPPING="TRUE")
    assert done.stdout.strip(), done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]
    unexplained: list[str] = []
    covered: set[tuple[str, str]] = set()
    for finding in results["failed_checks"]:
        kind, name = finding["resource"].split(".", 1)
        if (kind, finding["check_id"]) in SKIPPED_FOR_EVERY:
            covered.add((kind, finding["check_id"]))
        else:
            unexplained.append(f"{finding['check_id']} {name}: {finding['check_name']}")
    assert unexplained == [], "fix these, or skip them on the resource with a reason:\n" + "\n".join(unexplained)
    assert set(SKIPPED_FOR_EVERY) - covered == set(), "a type-wide skip no longer matches any finding: drop it"
    skipped = results.get("skipped_checks", [])
    assert skipped, "the template's own skips (Metadata.checkov.skip) were not read"
    for check in skipped:
        reason = check["check_result"].get("suppress_comment") or ""
        assert len(reason) >= 40, f"{check['check_id']} on {check['resource']} needs its reason"


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


@pytest.mark.skipif(os.environ.get("KSTOCK_SAM_BUILD") != "1", reason="sam build runs with KSTOCK_SAM_BUILD=1")
def test_sam_build_builds_every_function_within_lambdas_size_limit(tmp_path: Path) -> None:
    build = tmp_path / "build"
    command = [str(_tool(SAM)), "build", "--template-file", str(TEMPLATE), "--build-dir", str(build)]
    done = _run(command, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    layer = _size(build / "CoreLayer")
    functions = {d.name: _size(d) + layer for d in build.iterdir() if d.is_dir() and d.name != "CoreLayer"}
    assert len(functions) >= 20
    too_big = {name: size for name, size in functions.items() if size > LAMBDA_UNZIPPED_LIMIT}
    assert too_big == {}, f"function + CoreLayer unzipped over Lambda's {LAMBDA_UNZIPPED_LIMIT} bytes: {too_big}"
