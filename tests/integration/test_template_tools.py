"""The deploy tools accept template.yaml (issue 12, item 7): `sam validate --lint`, a checkov scan with
no finding left unexplained, and, before a deploy, `sam build`.

checkov and aws-sam-cli pin their own boto3, pydantic, networkx and packaging, so `make tools` installs
each into its own venv under .venv-tools; without them these tests are skipped with that hint.
`sam build` (no container: the python3.11 on PATH and pip's manylinux2014 wheels) builds the two layers
and the zip functions; the kiwipiepy functions are images it skips (no Docker). It fetches the core
layer's dependencies (~150 MB unzipped) from the package index: about 3 minutes with an empty pip cache
and 1 1/2 warm on a busy 2-core machine, so it runs in `make test`; KSTOCK_SAM_BUILD=0 skips it
(offline). cfn-lint runs in tests/unit/test_template.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.paths import PROJECT_ROOT

from kstock_local.bench.cold_start import lambda_environment
from kstock_local.cloud.template import load_yaml, read_template

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
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file() and not f.is_symlink())


def _top_level(directory: Path) -> set[str]:
    """The importable names at the top of a built function or layer directory."""
    return {p.name.removesuffix(".py") for p in directory.iterdir() if not p.name.endswith(".dist-info")}


# pip's and Chalice's deployer's requirements: none of them runs inside Lambda
BUILD_TOOLS = {"pip", "setuptools", "wheel", "click", "inquirer", "botocore", "yaml", "_yaml", "six"}


def test_the_chalice_layer_is_chalice_alone_and_imports_only_the_standard_library(tmp_path: Path) -> None:
    """layers/chalice/Makefile, as `sam build` runs it (BuildMethod: makefile, ARTIFACTS_DIR set)."""
    layer = PROJECT_ROOT / "layers" / "chalice"
    done = _run(
        ["make", "-f", str(layer / "Makefile"), "build-ChaliceLayer"],
        cwd=tmp_path,
        ARTIFACTS_DIR=str(tmp_path / "artifacts"),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    built = tmp_path / "artifacts" / "python"
    assert _top_level(built) == {"chalice"}
    # -I -S: no site-packages, only the layer; every module the import loads must be the standard library's
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); from chalice.app import Chalice, Blueprint, Response; "
        "import chalice; print(sorted({m.split('.')[0] for m in sys.modules} - {*sys.stdlib_module_names, '__main__'}))"
    )
    imported = _run([sys.executable, "-I", "-S", "-c", probe, str(built)], cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "['chalice']"


@pytest.mark.skipif(os.environ.get("KSTOCK_SAM_BUILD") == "0", reason="KSTOCK_SAM_BUILD=0: no sam build (offline)")
def test_sam_build_builds_every_zip_function_within_lambdas_size_limit(tmp_path: Path) -> None:
    build = tmp_path / "build"
    command = [str(_tool(SAM)), "build", "--template-file", str(TEMPLATE), "--build-dir", str(build)]
    done = _run(command, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    built = load_yaml(build / "template.yaml")
    functions = {n: r["Properties"] for n, r in built["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    images = {name for name, props in functions.items() if props.get("PackageType") == "Image"}
    zipped = set(functions) - images
    assert len(zipped) >= 20 and images == {"NewsIngestFunction", "ThemeClassifyFunction"}
    # no Docker: the image functions are left to their pushed image, not built
    assert all(functions[name]["ImageUri"] == {"Ref": "NlpImageUri"} for name in images)
    assert {name for name in images if (build / name).exists()} == set()
    layer_sizes = {d.name: _size(d) for d in build.iterdir() if d.name.endswith("Layer")}
    # Lambda puts /opt/python on sys.path: kstock must be right there, not in python/python/
    assert (build / "CoreLayer" / "python" / "kstock" / "__init__.py").is_file()
    assert "kiwipiepy" not in _top_level(build / "CoreLayer" / "python")
    assert _top_level(build / "ChaliceLayer" / "python") == {"chalice"}
    sizes = {}
    for name in zipped:
        assert _top_level(build / name) & BUILD_TOOLS == set(), f"{name} carries build tools"
        layers = [layer["Ref"] for layer in functions[name]["Layers"]]
        sizes[name] = _size(build / name) + sum(layer_sizes[layer] for layer in layers)
    too_big = {name: size for name, size in sizes.items() if size > LAMBDA_UNZIPPED_LIMIT}
    figures = f"layers {layer_sizes}, largest function + layers {max(sizes.values())} bytes"
    assert too_big == {}, (
        f"function + layers unzipped over Lambda's {LAMBDA_UNZIPPED_LIMIT} bytes: {too_big}; {figures}"
    )
    _every_zip_handler_imports_from_the_build_alone(build, functions, zipped)


# -I -S: no site-packages, so every import comes from the standard library or the function's directory
# and its layers, as /var/task and /opt/python in Lambda. The wheels are manylinux2014 (what Lambda's
# python3.11 loads), which this machine's glibc loads too.
_IMPORT_FROM_BUILD = """
import importlib, json, sys
setup = json.loads(sys.argv[1])
sys.path[:0] = setup["paths"]
module, _, attribute = setup["handler"].rpartition(".")
print(json.dumps({"callable": callable(getattr(importlib.import_module(module), attribute))}))
"""


def _every_zip_handler_imports_from_the_build_alone(
    build: Path, functions: dict[str, dict[str, Any]], zipped: set[str]
) -> None:
    local = read_template(TEMPLATE).functions  # the template's environment, without secrets
    for name in sorted(zipped):
        layers = [str(build / layer["Ref"] / "python") for layer in functions[name]["Layers"]]
        setup = {"paths": [str(build / name), *layers], "handler": functions[name]["Handler"]}
        environment = lambda_environment(local[name], build / name)
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _IMPORT_FROM_BUILD, json.dumps(setup)],
            cwd=build / name,
            env=environment,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        assert answer == {"callable": True}, name


# What functions/Dockerfile.nlp installs (tests/unit/test_template_deploy.py holds it to these files).
NLP_IMAGE_REQUIREMENTS = (
    "layers/core/requirements.txt",
    "functions/requirements.txt",
    "functions/requirements-nlp.txt",
)
NLP_HANDLERS = ("chalicelib.handlers.workers.news.ingest_news", "chalicelib.handlers.workers.themes.classify")
_NOUNS_FROM_IMAGE = """
import importlib, json, sys
sys.path[:0] = [sys.argv[1]]
handlers = [getattr(importlib.import_module(h.rpartition(".")[0]), h.rpartition(".")[2]) for h in sys.argv[2:]]
from kstock.news.keywords import nouns
print(json.dumps({"callable": all(map(callable, handlers)), "nouns": nouns("삼성전자가 HBM 반도체 수출을 늘렸다")}))
"""


@pytest.mark.skipif(os.environ.get("KSTOCK_SAM_BUILD") == "0", reason="KSTOCK_SAM_BUILD=0: no package index (offline)")
def test_the_nlp_images_libraries_run_the_analyser_for_both_handlers(tmp_path: Path) -> None:
    """No Docker here: the image's pip installs, into a directory laid out as its task root, and kiwipiepy
    run from it alone (python -I -S). The Lambda base image's Python is 3.11 too."""
    task = tmp_path / "task"
    requirements = [arg for path in NLP_IMAGE_REQUIREMENTS for arg in ("-r", str(PROJECT_ROOT / path))]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-warn-conflicts", "--target", str(task)]
    for command in (
        [*pip, *requirements],
        [*pip, "--no-deps", "-r", str(PROJECT_ROOT / "layers/chalice/requirements.txt")],
    ):
        done = _run(command, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
    for source in ("layers/core/python/kstock", "functions/chalicelib"):
        shutil.copytree(PROJECT_ROOT / source, task / Path(source).name)
    shutil.copy(PROJECT_ROOT / "functions" / "app.py", task)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _NOUNS_FROM_IMAGE, str(task), *NLP_HANDLERS],
        cwd=task,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    # the company names the analyser was taught stay one noun
    assert answer == {"callable": True, "nouns": ["삼성전자", "HBM", "반도체", "수출"]}
