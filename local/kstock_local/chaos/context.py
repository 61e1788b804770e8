"""What every step shares: the running stack, its API, subscribed clients and a pool of symbols."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psycopg
import redis

from kstock import keys
from kstock_local.chaos.api import Account, Api
from kstock_local.chaos.sockets import SocketPool, Subscriber
from kstock_local.chaos.stack import ChaosStack
from kstock_local.chaos.ticks import stored_acc_volume
from kstock_local.chaos.waiting import first_time, wait_until

# Streamed from the start (STREAMER_DEFAULT_SYMBOLS): their KIS slots never change, so their trade
# chain is continuous while the streamer's KIS session is.
WATCHED = ["005930", "000660"]
# Whose stored trades are judged for loss and duplicates: every default symbol (the more trades the
# outage window holds, the better the chain tests it), all streamed the whole time.
CHAINED = ["005930", "000660", "035420", "005380"]
SUBSCRIBERS = 3


@dataclass(frozen=True)
class Options:
    steps: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    kis_hang_seconds: float = 60.0
    postgres_stop_seconds: float = 30.0
    flood_sockets: int = 300
    flood_symbols: int = 100
    flood_hold_seconds: float = 20.0
    login_flood_workers: int = 24
    login_flood_seconds: float = 15.0
    patience: float = 180.0  # how long a recovery is waited for before its check fails
    ready_deadline: float = 1800.0  # a first `kstock up` loads two years of daily bars first
    # wait for the market load before the faults (the command: figures without that load on the CPU);
    # False starts as soon as the API answers and the streamer streams (the pytest wrapper: time)
    settled: bool = True
    # after a failed wait, wait once more to say how late the condition came (figures for the command)
    measure_late: bool = True


@dataclass
class ChaosContext:
    stack: ChaosStack
    api: Api
    sockets: SocketPool
    options: Options
    subscribers: list[Subscriber] = field(default_factory=list)
    _symbols: list[str] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.stack.state()["DATABASE_URL"]

    @property
    def aws(self) -> tuple[str, str]:
        state = self.stack.state()
        return state["AWS_ENDPOINT_URL"], state.get("AWS_REGION", "ap-northeast-2")

    def redis_answers(self) -> bool:
        client = redis.Redis.from_url(self.stack.state()["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def fresh_symbols(self, count: int) -> list[str]:
        """Listed stocks no step has used yet and the streamer does not stream or poll, largest first."""
        if not self._symbols:
            with psycopg.connect(self.database_url, autocommit=True, connect_timeout=10) as conn:
                rows = conn.execute(
                    "SELECT symbol FROM companies WHERE kind = 'STOCK' ORDER BY market_cap DESC NULLS LAST, symbol"
                ).fetchall()
            status = self.streamer_status()
            busy = {*WATCHED, *(status.get("streamed") or []), *(status.get("polled") or [])}
            busy |= {str(w.get("symbol")) for w in status.get("watchlist") or [] if isinstance(w, dict)}
            self._symbols = [str(r[0]) for r in rows if r[0] not in busy]
        if len(self._symbols) < count:
            raise LookupError(f"only {len(self._symbols)} unused listed stocks left, {count} wanted")
        taken, self._symbols = self._symbols[:count], self._symbols[count:]
        return taken

    def uncached(self, symbols: list[str]) -> str:
        """The first of ``symbols`` without a cached price (so a price request must ask KIS)."""
        client = redis.Redis.from_url(self.stack.state()["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2)
        try:
            for symbol in symbols:
                if not client.exists(keys.latest_price(symbol)):
                    return symbol
        finally:
            client.close()
        raise LookupError(f"every one of {symbols} has a cached price")

    def wait_all(self, condition: Callable[[Subscriber], bool], deadline: float) -> list[bool]:
        """Wait until ``condition`` holds for every subscriber, or ``deadline`` s pass; whether it
        holds for each. (Figures come from the messages' arrival times, not from this wait.)"""
        first_time(lambda: all(condition(s) for s in self.subscribers), deadline)
        return [condition(s) for s in self.subscribers]

    def streamer_status(self) -> dict[str, Any]:
        """The streamer's own /health body ({} while it does not answer)."""
        try:
            return self.api.streamer_health().body
        except (OSError, ValueError):
            return {}

    def newest_acc_volumes(self) -> dict[str, int]:
        """Per watched symbol, the newest accumulated volume any subscriber was sent."""
        found: dict[str, int] = {}
        for subscriber in self.subscribers:
            for symbol in WATCHED:
                acc = subscriber.latest_acc_volume(symbol)
                if acc is not None:
                    found[symbol] = max(found.get(symbol, 0), acc)
        return found

    def published_acc_volumes(self) -> dict[str, int]:
        """Per chained symbol, the accumulated volume of the newest trade the streamer published
        (``price:{symbol}``), whether or not the fan-out delivered it."""
        client = redis.Redis.from_url(self.stack.state()["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2)
        try:
            raw = cast(list[bytes | None], client.mget([keys.latest_price(s) for s in CHAINED]))
        except (redis.RedisError, OSError):
            return {}
        finally:
            client.close()
        found = {}
        for symbol, value in zip(CHAINED, raw, strict=True):
            tick = json.loads(value) if value else {}
            if tick.get("source") == "ws":
                found[symbol] = int(tick["accVolume"])
        return found

    def stored_marks(self) -> dict[str, int]:
        """Per chained symbol, the newest accumulated volume Postgres holds: the chain's start (taken
        before a fault, so the judged trades span it)."""
        return stored_acc_volume(self.database_url, CHAINED)

    def published_past(self, anchors: dict[str, int], deadline: float) -> dict[str, int]:
        """Wait until every chained symbol has published a trade past ``anchors`` (so after the
        fault); the first such accumulated volume of each. Polled: ``price:{symbol}`` lives 10 s
        and a quiet symbol may trade less often."""
        seen: dict[str, int] = {}

        def past() -> bool:
            for symbol, acc in self.published_acc_volumes().items():
                if symbol in anchors and acc > anchors[symbol]:
                    seen.setdefault(symbol, acc)
            return set(seen) >= set(anchors)

        wait_until(past, deadline, f"trades published past {anchors}", 0.2)
        return seen

    def marks_after_recovery(self, anchors: dict[str, int], deadline: float) -> dict[str, int]:
        """Per symbol of ``anchors``, a trade published after this call (so after the fault ended),
        waited for: the chain's end. Trades published during the fault (Redis is up while Postgres is
        stopped) lie inside the chain, not at its end."""
        now = self.published_acc_volumes()
        return self.published_past({s: max(acc, now.get(s, acc)) for s, acc in anchors.items()}, deadline)

    def unbroken_marks(self, deadline: float) -> dict[str, int]:
        """Per chained symbol, a trade published after this call, waited for until stored: a chain's start
        that no earlier fault broke. A quiet symbol's newest stored trade can predate an earlier step's
        outage (a killed streamer's seconds without a KIS session lose that market's trades: KIS replays
        none), and a chain from there would count that gap against this step."""
        targets = self.marks_after_recovery(self.stored_marks(), deadline)
        self.wait_stored(targets, deadline)
        return targets

    def wait_stored(self, targets: dict[str, int], deadline: float) -> float:
        """Until Postgres holds every chained symbol's trades up to ``targets``; the seconds it took."""
        started = time.monotonic()

        def caught_up() -> bool:
            try:
                stored = stored_acc_volume(self.database_url, list(targets))
            except psycopg.Error:
                return False
            return all(stored.get(s, -1) >= acc for s, acc in targets.items())

        wait_until(caught_up, deadline, f"the tick writer to store trades up to {targets}", 0.5)
        return time.monotonic() - started


def start(options: Options, keep: bool = False) -> ChaosContext:
    """A stack, ready, with :data:`SUBSCRIBERS` users subscribed to :data:`WATCHED` and getting ticks."""
    stack = ChaosStack.launch(keep=keep)
    try:
        stack.wait_ready(options.ready_deadline, market=options.settled)
        api = Api(stack.api_url, stack.streamer_health_url)
        context = ChaosContext(stack, api, SocketPool(stack.ws_url), options)
        wait_until(lambda: _streaming(api), options.patience, "the streamer to report ok with the fan-out running", 0.5)
        for n in range(SUBSCRIBERS):
            account = api.sign_up(f"subscriber{n}")
            context.subscribers.append(context.sockets.subscribe(f"subscriber{n}", account.token, WATCHED))
        wait_until(
            lambda: all(s.latest_acc_volume(x) is not None for s in context.subscribers for x in WATCHED),
            options.patience,
            "every subscriber to receive trades of every watched symbol",
            0.2,
        )
        return context
    except BaseException:
        stack.stop()
        raise


def _streaming(api: Api) -> bool:
    try:
        status = api.streamer_health().body
    except (OSError, ValueError):
        return False
    return (
        bool(status.get("ok"))
        and bool(status.get("fanoutRunning"))
        and set(WATCHED) <= set(cast(list[str], status.get("streamed") or []))
    )


def finish(context: ChaosContext, failed: bool = False) -> Path | None:
    """Close the clients and stop the stack; after a failure its log is kept (the path returned)."""
    try:
        context.sockets.close()
    finally:
        kept = context.stack.stop(keep_log=failed)
    return kept


__all__ = ["CHAINED", "WATCHED", "Account", "ChaosContext", "Options", "finish", "start"]
