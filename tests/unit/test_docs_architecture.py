"""docs/architecture.md stays honest: its Redis table names exactly the keys and channels of
``kstock.keys``, its function and queue tables exactly the ones of template.yaml, and the KIS
protocol notes the code cites are in docs/ with the sections it cites."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import yaml

from kstock import keys

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "template.yaml").is_file())
DOCS = ROOT / "docs"
ARCHITECTURE = (DOCS / "architecture.md").read_text(encoding="utf-8")
KIS_PROTOCOL = (DOCS / "kis-protocol.md").read_text(encoding="utf-8")
CODE_ROOTS = ("layers", "functions", "streamer", "local", "tests")


# -- what the code and the template say -----------------------------------------------------------


def redis_names() -> dict[str, str]:
    """Constant or builder name -> the key it spells; builders with their parameters as ``{name}``."""
    found: dict[str, str] = {}
    for name, value in vars(keys).items():
        if name.isupper() and isinstance(value, str):
            found[name] = value
        elif inspect.isfunction(value) and value.__module__ == keys.__name__:
            placeholders = [f"{{{p}}}" for p in inspect.signature(value).parameters]
            found[name] = value(*placeholders)
    return found


class _TemplateLoader(yaml.SafeLoader):
    """PyYAML that reads CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) as plain values."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


_TemplateLoader.add_multi_constructor("!", _short_tag)


def template_resources() -> dict[str, dict[str, Any]]:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    resources: dict[str, dict[str, Any]] = yaml.load(text, Loader=_TemplateLoader)["Resources"]  # a SafeLoader
    return resources


def logical_ids(kind: str) -> set[str]:
    return {lid for lid, resource in template_resources().items() if resource["Type"] == kind}


def dead_letter_queues() -> dict[str, str]:
    """Queue -> the queue its redrive policy moves failed messages to."""
    found = {}
    for lid, resource in template_resources().items():
        redrive = (resource.get("Properties") or {}).get("RedrivePolicy")
        if resource["Type"] == "AWS::SQS::Queue" and redrive:
            found[lid] = str(redrive["deadLetterTargetArn"]).split(".")[0]  # "!GetAtt X.Arn" read as "X.Arn"
    return found


# -- what the doc says -----------------------------------------------------------------------------


def table_after(header_start: str) -> list[list[str]]:
    """The body rows (cells) of the Markdown table of docs/architecture.md whose header row starts with
    ``header_start``."""
    lines = ARCHITECTURE.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(header_start)), None)
    assert start is not None, f"docs/architecture.md has no table starting {header_start!r}"
    rows = []
    for line in lines[start + 2 :]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def code_name(cell: str) -> str:
    """The first `backticked` name of a table cell."""
    found = re.search(r"`([^`]+)`", cell)
    assert found, f"no `name` in table cell {cell!r}"
    return found.group(1)


# -- the tests -------------------------------------------------------------------------------------


def test_the_redis_table_lists_every_key_and_channel_of_keys_py_with_its_name() -> None:
    documented = {code_name(row[0]): code_name(row[1]) for row in table_after("| constant in `keys.py`")}
    actual = redis_names()
    assert actual, "kstock.keys defines no names: the test reads the wrong module"
    missing = {name: key for name, key in actual.items() if name not in documented}
    assert not missing, f"keys.py names these, docs/architecture.md section 3.1 does not: {missing}"
    stale = sorted(set(documented) - set(actual))
    assert not stale, f"docs/architecture.md section 3.1 lists names keys.py no longer has: {stale}"
    wrong = {name: (documented[name], key) for name, key in actual.items() if documented[name] != key}
    assert not wrong, f"documented key differs from keys.py (doc, code): {wrong}"


def test_every_group_of_keys_in_keys_py_is_named_in_the_doc() -> None:
    groups = [n for n, v in vars(keys).items() if n.isupper() and isinstance(v, tuple | frozenset | list)]
    assert all(isinstance(k, str) for n in groups for k in getattr(keys, n)), "a group of keys.py holds a non-key"
    unnamed = [n for n in groups if f"`{n}`" not in ARCHITECTURE]
    assert not unnamed, f"docs/architecture.md section 3.1 does not name these groups of keys.py: {unnamed}"


def test_every_function_of_the_template_is_in_the_functions_table_and_nothing_else() -> None:
    functions = logical_ids("AWS::Serverless::Function")
    assert len(functions) > 10, "template.yaml read wrongly: too few functions"
    documented = [code_name(row[0]) for row in table_after("| function (logical id)")]
    assert sorted(set(documented)) == sorted(documented), "a function is listed twice"
    assert set(documented) == functions, (
        f"missing from docs/architecture.md: {sorted(functions - set(documented))}; "
        f"not in template.yaml: {sorted(set(documented) - functions)}"
    )


def test_every_queue_of_the_template_is_in_the_queue_table_with_its_dead_letter_queue() -> None:
    queues = logical_ids("AWS::SQS::Queue")
    documented = {code_name(row[0]): code_name(row[1]) for row in table_after("| queue | dead-letter queue")}
    assert documented == dead_letter_queues(), "the queue table's (queue, DLQ) pairs differ from the redrive policies"
    assert set(documented) | set(documented.values()) == queues, (
        f"queues of template.yaml missing from the table: {sorted(queues - set(documented) - set(documented.values()))}"
    )


def test_every_function_and_queue_named_in_the_doc_prose_exists() -> None:
    """Logical ids mentioned anywhere (``SomethingFunction``, ``SomethingQueue``) are the template's."""
    known = logical_ids("AWS::Serverless::Function") | logical_ids("AWS::SQS::Queue")
    mentioned = set(re.findall(r"\b[A-Z][A-Za-z]+(?:Function|Queue)\b", ARCHITECTURE))
    assert mentioned - known == set(), f"docs/architecture.md names what template.yaml lacks: {mentioned - known}"


def kis_citations() -> list[tuple[str, str]]:
    """(file, cited text) of every citation of the KIS protocol notes in the code and tests."""
    pattern = re.compile(r"(?:docs/kis-protocol\.md|shared/specs/kis\.md|spec) sections? ([0-9][0-9., and]*)")
    found = []
    for root in CODE_ROOTS:
        for path in (ROOT / root).rglob("*.py"):
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                found.append((str(path.relative_to(ROOT)), match.group(0)))
    return found


def test_the_code_cites_the_kis_protocol_notes_in_docs_and_the_sections_exist() -> None:
    citations = kis_citations()
    assert citations, "no citation of the KIS notes found: the pattern no longer matches the code"
    outside = [(f, c) for f, c in citations if not c.startswith("docs/kis-protocol.md")]
    assert not outside, f"cite docs/kis-protocol.md, the notes inside the repository: {outside}"
    headings = set(re.findall(r"^#{2,3} ([0-9]+(?:\.[0-9]+)?)\.? ", KIS_PROTOCOL, flags=re.MULTILINE))
    for path, citation in citations:
        for section in re.findall(r"[0-9]+(?:\.[0-9]+)?", citation.split(" section", 1)[1]):
            assert section in headings, f"{path} cites section {section}, which docs/kis-protocol.md lacks"


def test_nothing_points_at_the_notes_outside_the_repository() -> None:
    """The shared design folder is not shipped with kstock: the code and docs/ cite docs/."""
    outside = re.compile(r"shared/specs|ARCHITECTURE\.md|\bapi\.md\b")
    offenders = [
        str(path.relative_to(ROOT))
        for root in (*CODE_ROOTS, "docs")
        for path in (ROOT / root).rglob("*")
        if path.suffix in (".py", ".md")
        and path != Path(__file__).resolve()
        and outside.search(path.read_text("utf-8"))
    ]
    assert not offenders, f"cite docs/ (kis-protocol.md, architecture.md) instead of the shared notes: {offenders}"


def test_the_kis_pages_link_each_other() -> None:
    assert "(kis-protocol.md)" in (DOCS / "kis.md").read_text(encoding="utf-8")
    assert "(kis.md)" in KIS_PROTOCOL
    assert "(kis.md)" in ARCHITECTURE and "(kis-protocol.md)" in ARCHITECTURE
