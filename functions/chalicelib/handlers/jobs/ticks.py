"""Tick storage upkeep: next months' partitions, the OHLCV rollup and retention (Postgres only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from kstock import db
from kstock.config import get_settings
from kstock.logs import get_logger
from kstock.ticks import maintenance, ohlcv

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

log = get_logger("kstock.jobs")


def tick_partitions(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    with db.transaction() as conn:
        created = maintenance.ensure_partitions(conn)
    log.info("tick partitions ensured", extra={"partitions_created": created})
    return {"created": created}


def ohlcv_rollup(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with db.transaction() as conn:
        result = ohlcv.rollup(conn, lookback_minutes=get_settings().ohlcv_rollup_lookback_minutes)
    log.info("ohlcv rolled up", extra={"rows": result.rows})
    return {"since": result.since.isoformat(), "rows": result.rows}


def retention(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with db.transaction() as conn:
        result = maintenance.apply_retention(conn)
    log.info("retention applied", extra=asdict(result))
    return asdict(result)
