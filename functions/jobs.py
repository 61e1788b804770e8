"""Scheduled jobs (EventBridge): thin wrappers over the core."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from kstock import db
from kstock.logs import get_logger
from kstock.ticks import maintenance

log = get_logger("kstock.jobs")


def tick_partitions(event: dict[str, Any], context: Any) -> dict[str, int]:
    with db.transaction() as conn:
        created = maintenance.ensure_partitions(conn)
    log.info("tick partitions ensured", extra={"partitions_created": created})
    return {"created": created}


def retention(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with db.transaction() as conn:
        result = maintenance.apply_retention(conn)
    log.info("retention applied", extra=asdict(result))
    return asdict(result)
