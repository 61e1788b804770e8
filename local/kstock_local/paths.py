"""Where the project's parts are on disk (the local runtime runs from a source checkout)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
