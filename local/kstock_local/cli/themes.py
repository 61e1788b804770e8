"""Operators' theme commands: ``kstock themes eval FILE [--classifier rules|llm]``.

``eval`` classifies every case of a JSON-lines file (``golden`` names the set shipped with kstock,
``kstock/themes/golden.jsonl``) and prints the accuracy and a confusion list. ``--classifier rules``
needs nothing but the process; ``--classifier llm`` runs the worker's whole chain (Gemini first,
rules when it fails), so it uses the running stack's database (or the embedded one) for the LLM
budget and call log, and prints the LLM calls and tokens it spent.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

SHIPPED = "golden"  # FILE naming the golden set shipped as package data


def cmd_themes_eval(args: argparse.Namespace) -> int:
    from kstock.themes.evaluate import CaseFileError, evaluate, format_report, golden_text, load_cases, parse_cases

    try:
        cases = parse_cases(golden_text(), "golden.jsonl") if args.file == SHIPPED else load_cases(Path(args.file))
    except (OSError, CaseFileError) as exc:
        print(f"kstock themes eval: {exc}", file=sys.stderr)
        return 1
    client = None
    if args.classifier == "llm":
        from kstock.llm import default_client
        from kstock_local.cli.content import use_stack_or_embedded

        if default_client().available:  # the budget and call log need a database; no key, no calls
            where = use_stack_or_embedded()
            client = default_client()
            print(f"LLM: {client.model}; budget and call log in {where}")
        else:
            client = default_client()
            print("LLM: no GOOGLE_API_KEY, so every case falls back to rules (set a key to measure Gemini)")

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} cases", end="\n" if done == total else "", file=sys.stderr, flush=True)

    report = evaluate(cases, args.classifier, client=client, progress=progress if args.classifier == "llm" else None)
    print(format_report(report, verbose=args.verbose))
    return 0


def add_themes_commands(sub: Any) -> Any:
    """Register ``kstock themes ...``; returns its sub-command group for other theme commands."""
    themes = sub.add_parser("themes", help="theme sync: classify surging stocks into micro themes")
    themes_sub = themes.add_subparsers(dest="themes", required=True)
    evaluate = themes_sub.add_parser("eval", help="accuracy and confusion of a classifier on labelled cases")
    evaluate.add_argument(
        "file", help=f"JSON lines of {{symbol, name, headlines, themes, expected}}; '{SHIPPED}' = the shipped set"
    )
    evaluate.add_argument("--classifier", choices=("rules", "llm"), default="rules", help="default: rules")
    evaluate.add_argument("--verbose", "-v", action="store_true", help="one line per case")
    evaluate.set_defaults(func=cmd_themes_eval)
    return themes_sub
