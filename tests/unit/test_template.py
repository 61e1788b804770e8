"""template.yaml is valid CloudFormation and every Handler resolves to an exported function."""

import subprocess
import sys
from pathlib import Path

from kstock_local.cloud.lambdas.runtime import load_handler
from kstock_local.cloud.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]


def test_cfn_lint_accepts_the_template():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_handler_resolves():
    template = load_yaml(ROOT / "template.yaml")
    functions = {name: res for name, res in template["Resources"].items() if res["Type"] == "AWS::Serverless::Function"}
    assert "ApiFunction" in functions
    for name, resource in functions.items():
        properties = resource["Properties"]
        # an image function (PackageType: Image) names its handler in ImageConfig.Command
        handler = properties.get("Handler") or properties["ImageConfig"]["Command"][0]
        assert callable(load_handler(handler)), f"{name}: {handler} is not callable"


def test_every_package_is_listed_in_pyproject():
    """A non-editable install (a Lambda layer build) ships only the packages pyproject lists."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    roots = {
        "kstock": ROOT / "layers/core/python/kstock",
        "kstock_streamer": ROOT / "streamer/kstock_streamer",
        "kstock_local": ROOT / "local/kstock_local",
    }
    found = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            found.add(".".join([name, *init.parent.relative_to(root).parts]))
    assert found - listed == set(), f"add to pyproject.toml packages: {sorted(found - listed)}"


def test_the_lambda_app_imports_neither_the_llm_sdk_nor_the_korean_tokenizer():
    """Every function imports app.py: google-genai (~0.6 s) and kiwipiepy load only where they are used."""
    code = (
        "import sys, app; heavy = [m for m in ('google.genai', 'kiwipiepy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "functions", capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at Lambda start: {done.stdout}"
