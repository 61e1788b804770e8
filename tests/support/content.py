"""Helpers of the issue 13 wiring tests: the production template made quiet for a test, and cleanup of
one company's content.

The template copy keeps every function, queue and redrive policy, and changes only what a test
cannot wait for or must not share: schedules are off (a cron firing mid-test would queue every
company), failed messages come back after a few seconds instead of minutes (the DLQ test), and
queues carry the test's own names (other modules provision the template on the same moto server).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from kstock import db
from kstock_local.cloud.template import load_yaml
from support.paths import PROJECT_ROOT

RETRY_VISIBILITY_SECONDS = 3


def quiet_template(directory: Path, prefix: str) -> Path:
    doc: dict[str, Any] = load_yaml(PROJECT_ROOT / "template.yaml")
    doc["Globals"]["Function"]["CodeUri"] = str(PROJECT_ROOT / "functions")
    for logical_id, resource in doc["Resources"].items():
        props = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            events = props.get("Events") or {}
            for name in [n for n, e in events.items() if e["Type"] in ("Schedule", "ScheduleV2")]:
                del events[name]
            (resource.get("Metadata") or {}).pop("LocalCloud", None)
        elif resource["Type"] == "AWS::SQS::Queue":
            props["QueueName"] = f"{prefix}-{logical_id}"
            if "RedrivePolicy" in props:
                props["VisibilityTimeout"] = RETRY_VISIBILITY_SECONDS
    path = directory / "template.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return path


def company(symbol: str) -> dict[str, Any]:
    with db.read() as conn:
        row: Any = conn.execute(
            "SELECT id, symbol, name, industry_id FROM companies WHERE symbol = %s", (symbol,)
        ).fetchone()
    return dict(row)


def forget_content(company_ids: list[int], symbols: list[str]) -> None:
    """Remove what the loads stored for these companies (other modules expect them without content)."""
    with db.transaction() as conn:
        conn.execute(
            "DELETE FROM news WHERE id IN (SELECT news_id FROM news_companies WHERE company_id = ANY(%s))",
            (company_ids,),
        )
        conn.execute("DELETE FROM financials WHERE company_id = ANY(%s)", (company_ids,))
        conn.execute("DELETE FROM reports WHERE company_id = ANY(%s)", (company_ids,))
        conn.execute("DELETE FROM data_refreshes WHERE company_id = ANY(%s)", (company_ids,))
        conn.execute("DELETE FROM ohlcv_1d WHERE symbol = ANY(%s)", (symbols,))


@contextmanager
def content_of(symbol: str) -> Iterator[dict[str, Any]]:
    """A company whose stored news, filings and figures a test may fill: cleared before and after,
    with every article stored meanwhile removed (articles of an industry query name other companies)."""
    found = company(symbol)
    with db.read() as conn:
        before = conn.execute("SELECT coalesce(max(id), 0) AS id FROM news").fetchone()["id"]
    forget_content([found["id"]], [symbol])
    try:
        yield found
    finally:
        forget_content([found["id"]], [symbol])
        with db.transaction() as conn:
            conn.execute("DELETE FROM news WHERE id > %s", (before,))
