"""The simulated KRX market: reproducible from a seed, plausible enough to develop against.

* Universe: the companies shipped in ``kstock/data/companies.csv``, the indices of
  ``indices.csv`` (KOSPI 0001, KOSDAQ 1001, KOSPI200 2001) and a few synthetic ELWs.
* Each stock has a seeded previous close and >= 2 years of daily bars generated backwards from
  it (so history and today always join), all on the KRX tick ladder within +-30% per day.
* Intraday: trades arrive at a configurable rate shaped by a U-shaped profile over the session;
  each trade is a random walk step on the ladder inside the day's limits, with consistent
  open/high/low, cumulative volume and value (VWAP = value / volume) and buy/sell counts.
* Regimes: every ``regime_seconds`` the members of one named theme (:mod:`kstock_local.kis_sim.themes`)
  start surging together (drift up, more trades) and the previous surgers fade, so the
  fluctuation ranking changes and gets new entrants that the news stand-in can explain.
* Hours: KRX regular session from :mod:`kstock.market.calendar`; ``always_open`` maps the wall
  clock onto a looping session so the market trades at any hour (demos, ``make up``).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import numpy.typing as npt

from kstock.companies.reference import load_companies, load_indices
from kstock.market.calendar import KST, Session, previous_trading_day, session_at, trading_days, trading_hours
from kstock_local.kis_sim.themes import THEMES, Theme
from kstock_local.kis_sim.ticksize import ELW_TICK, price_limits, price_limits_array, round_to_tick, round_to_tick_array

SESSION_SECONDS = 6.5 * 3600  # 09:00-15:30

# Real reference prices for a few names so the demo looks familiar; the rest are seeded.
_KNOWN_PRICES = {"005930": 71_500, "000660": 174_900, "035420": 190_000, "005380": 210_000, "035720": 41_000}
_INDEX_BASES = {"0001": 2_650.0, "1001": 850.0, "2001": 350.0}
# ELW codes from KIS samples (docs/kis-protocol.md section 10), attached to the largest KOSPI names.
THEME_SURGE_MAX = 6  # members of the hot theme that surge at once (all of a small theme)
# 57LA50 is the code of the official inquire-elw-price sample.
_ELW_CODES = ("57LA24", "57L739", "52L181", "58J297", "57K281", "57H714", "57LA50", "57L650", "57L966")


@dataclass(frozen=True, slots=True)
class DayBar:
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: int
    value: int


@dataclass(eq=False)
class Security:
    """A stock or ELW and its state for the current session."""

    symbol: str
    name: str
    market: str  # KOSPI / KOSDAQ / ELW
    industry: str
    listed_shares: int
    base_volume: int  # a typical day's volume
    prev_close: int
    prev_volume: int
    daily_vol: float
    is_elw: bool = False
    underlying: Security | None = None
    strike: int = 0
    ratio: float = 0.1
    call: bool = True
    # session state
    open: int = 0
    high: int = 0
    low: int = 0
    price: int = 0
    open_time: str = "090000"
    high_time: str = "090000"
    low_time: str = "090000"
    acc_volume: int = 0
    acc_value: int = 0
    sell_count: int = 0
    buy_count: int = 0
    sell_qty: int = 0
    buy_qty: int = 0
    last_side: str = "1"  # the last trade's side: where the order book stands (orderbook.py)
    book_shift: int = 0  # bumped when the book is refreshed between trades
    lower: int = 0
    upper: int = 0
    target: float = 0.0  # where the walk is pulled to (anchor, surge peak, fade floor)
    boost: float = 0.0  # extra move probability while surging / fading
    heat: float = 1.0  # trade-rate multiplier
    history: list[DayBar] | None = None

    @property
    def vwap(self) -> float:
        return self.acc_value / self.acc_volume if self.acc_volume else float(self.price)

    @property
    def change(self) -> int:
        return self.price - self.prev_close

    @property
    def lot(self) -> int:
        """Shares worth about 3 million won: the unit of trade sizes and book quantities."""
        return max(1, 3_000_000 // max(1, self.price or self.prev_close))

    @property
    def change_percent(self) -> float:
        return (self.price - self.prev_close) * 100.0 / self.prev_close if self.prev_close else 0.0

    @property
    def market_cap(self) -> int:
        return self.price * self.listed_shares

    def sign(self) -> str:
        """KIS sign code vs the previous close: 1 limit up, 2 up, 3 flat, 4 limit down, 5 down."""
        if not self.is_elw and self.price >= self.upper:
            return "1"
        if not self.is_elw and self.price <= self.lower:
            return "4"
        return "2" if self.price > self.prev_close else "5" if self.price < self.prev_close else "3"


@dataclass(eq=False)
class IndexState:
    code: str  # KIS code 0001 / 1001 / 2001
    name: str
    members: list[Security]
    prev_close: float
    prev_volume: int
    weights: list[float] = field(default_factory=list)
    value: float = 0.0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    history: list[DayBar] | None = None

    @property
    def change(self) -> float:
        return round(self.value - self.prev_close, 2)

    @property
    def change_percent(self) -> float:
        return (self.value - self.prev_close) * 100.0 / self.prev_close

    @property
    def acc_volume(self) -> int:
        return sum(m.acc_volume for m in self.members)

    @property
    def acc_value(self) -> int:
        return sum(m.acc_value for m in self.members)

    def counts(self) -> tuple[int, int, int, int, int]:
        """(upper limit, up, flat, down, lower limit) member counts."""
        signs = [m.sign() for m in self.members]
        return tuple(signs.count(s) for s in "12354")  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Trade:
    """One executed trade, as the WebSocket publisher needs it."""

    tr_id: str  # H0STCNT0 or H0EWCNT0
    security: Security
    qty: int
    side: str  # 1 buyer-initiated, 5 seller-initiated
    clock: str  # HHMMSS KST
    price: int  # this trade's price and the day's volume after it (a frame batches several trades)
    acc_volume: int


class Market:
    def __init__(
        self,
        seed: int = 20250714,
        *,
        always_open: bool = True,
        trades_per_second: float = 200.0,
        history_days: int = 800,
        surge_count: int = 3,
        regime_seconds: float = 90.0,
        elw_count: int = 7,
        elw_share: float = 0.03,
        clock: Callable[[], datetime] | None = None,
        universe: int | None = None,
    ) -> None:
        self.seed = seed
        self.universe = universe  # trade only the first N companies (benchmarks: every trade is subscribed)
        self.always_open = always_open
        self.trades_per_second = trades_per_second
        self.history_days = history_days
        self.surge_count = surge_count
        self.regime_seconds = regime_seconds
        self.elw_share = elw_share
        self.clock = clock or (lambda: datetime.now(KST))
        self.rng = random.Random(f"{seed}:intraday")
        self.stocks: dict[str, Security] = {}
        self.elws: dict[str, Security] = {}
        self.indices: dict[str, IndexState] = {}
        self.trades_generated = 0
        self._surging: list[Security] = []
        self.hot_theme: Theme | None = None  # the theme surging in the current regime
        self._fading: list[Security] = []
        self._regime_left = 0.0
        self._cum_weights: list[float] = []
        self._carry = 0.0
        self.session_day = self._session_day_for(self.clock())
        self._build(elw_count)
        self._start_session(self.clock(), warm=True)

    # -- universe ------------------------------------------------------------------------------

    def _build(self, elw_count: int) -> None:
        companies = [c for c in load_companies() if c.kind in ("STOCK", "ETF", "ETN")][: self.universe]
        ranks = {"KOSPI": itertools.count(1), "KOSDAQ": itertools.count(1)}
        for company in companies:
            rng = random.Random(f"{self.seed}:{company.symbol}:profile")
            rank = next(ranks.setdefault(company.market, itertools.count(1)))
            price = _KNOWN_PRICES.get(company.symbol) or round_to_tick(
                math.exp(rng.uniform(math.log(1_500), math.log(400_000)))
            )
            # The data file lists big names first: a power law by rank gives plausible caps.
            cap = (450e12 if company.market == "KOSPI" else 25e12) * rank**-1.15 * rng.uniform(0.7, 1.3)
            shares = company.listed_shares or max(1_000_000, int(cap / price))
            turnover = rng.uniform(0.001, 0.006)
            base_volume = max(10_000, int(shares * turnover))
            self.stocks[company.symbol] = Security(
                symbol=company.symbol,
                name=company.name,
                market=company.market,
                industry=company.industry or "",
                listed_shares=shares,
                base_volume=base_volume,
                prev_close=price,
                prev_volume=int(base_volume * rng.uniform(0.6, 1.4)),
                daily_vol=rng.uniform(0.012, 0.035),
            )
        kospi = sorted((s for s in self.stocks.values() if s.market == "KOSPI"), key=lambda s: -s.market_cap)
        for i, code in enumerate(_ELW_CODES[:elw_count]):
            under = kospi[i % max(1, len(kospi))]
            call = i % 3 != 2
            strike = round_to_tick(under.prev_close * (1.05 if call else 0.95))
            elw = Security(
                symbol=code,
                name=f"{under.name[:6]} {'콜' if call else '풋'} {i + 1:02d}",
                market="ELW",
                industry="ELW",
                listed_shares=10_000_000,
                base_volume=2_000_000,
                prev_close=0,
                prev_volume=2_000_000,
                daily_vol=0.12,
                is_elw=True,
                underlying=under,
                strike=strike,
                call=call,
            )
            elw.prev_close = self._elw_fair(elw, under.prev_close)
            self.elws[code] = elw
        for row in load_indices():
            members = [s for s in self.stocks.values() if s.market == ("KOSDAQ" if row.kis_code == "1001" else "KOSPI")]
            if row.kis_code == "2001":
                members = sorted(members, key=lambda s: -s.market_cap)[:200]
            rng = random.Random(f"{self.seed}:{row.kis_code}:index")
            base = _INDEX_BASES.get(row.kis_code, 1000.0) * rng.uniform(0.95, 1.05)
            index = IndexState(
                code=row.kis_code,
                name=row.name,
                members=members,
                prev_close=round(base, 2),
                prev_volume=sum(m.prev_volume for m in members),
            )
            total = sum(m.prev_close * m.listed_shares for m in members) or 1
            index.weights = [m.prev_close * m.listed_shares / total for m in members]
            self.indices[row.kis_code] = index

    def _elw_fair(self, elw: Security, underlying_price: float) -> int:
        intrinsic = max(0.0, (underlying_price - elw.strike) if elw.call else (elw.strike - underlying_price))
        return max(ELW_TICK, round_to_tick((intrinsic + underlying_price * 0.04) * elw.ratio, elw=True))

    def security(self, symbol: str) -> Security | None:
        return self.stocks.get(symbol) or self.elws.get(symbol)

    # -- clock and session ---------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock().astimezone(KST)

    def _session_day_for(self, moment: datetime) -> date:
        day = moment.astimezone(KST).date()
        if self.always_open or trading_hours(day) is not None:
            return day
        return previous_trading_day(day)

    def is_trading(self, moment: datetime) -> bool:
        if self.always_open:
            return True
        return session_at(moment) in (Session.REGULAR, Session.CLOSING_AUCTION)

    def session_fraction(self, moment: datetime) -> float:
        """Where in the 6.5 h session ``moment`` is (0 open .. 1 close); looping in always-open mode."""
        local = moment.astimezone(KST)
        if self.always_open:
            seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
            return (seconds % SESSION_SECONDS) / SESSION_SECONDS
        hours = trading_hours(local.date())
        if hours is None:
            return 1.0
        opened, closed = hours.at(hours.open), hours.at(hours.close)
        return min(1.0, max(0.0, (local - opened).total_seconds() / (closed - opened).total_seconds()))

    @staticmethod
    def profile(fraction: float) -> float:
        """U-shaped intraday activity, mean 1 over the session: 2x at the open and close, 0.5x midday."""
        return (1.0 + 3.0 * (2.0 * fraction - 1.0) ** 2) / 2.0

    def _start_session(self, moment: datetime, warm: bool) -> None:
        """Reset intraday state; ``warm`` fills in the part of the day already elapsed."""
        fraction = self.session_fraction(moment)
        if (
            not self.always_open
            and session_at(moment) in (Session.CLOSED, Session.OPENING_AUCTION)
            and moment.astimezone(KST).date() == self.session_day
            and fraction <= 0
        ):
            fraction = 0.0
        rng = random.Random(f"{self.seed}:{self.session_day.isoformat()}:warm")
        self._warm_span = (moment - timedelta(seconds=fraction * self._session_seconds(moment)), moment)
        self._times_rng = random.Random(f"{self.seed}:{self.session_day.isoformat()}:times")
        for sec in self.stocks.values():
            sec.lower, sec.upper = price_limits(sec.prev_close)
            self._warm(sec, fraction if warm else 0.0, rng)
        for elw in self.elws.values():
            elw.lower, elw.upper = ELW_TICK, 10**9
            self._warm(elw, 0.0, rng)
            elw.price = elw.open = elw.high = elw.low = self._elw_fair(elw, elw.underlying.price)  # type: ignore[union-attr]
        for index in self.indices.values():
            index.value = index.open = index.high = index.low = index.prev_close
            self._update_index(index)
            index.open = index.prev_close
        self._regime_left = 0.0

    def _warm(self, sec: Security, fraction: float, rng: random.Random) -> None:
        sec.boost, sec.heat = 0.0, 1.0
        if fraction <= 0:
            sec.open = sec.high = sec.low = sec.price = sec.prev_close
            sec.acc_volume = sec.acc_value = sec.sell_count = sec.buy_count = sec.sell_qty = sec.buy_qty = 0
            sec.target = float(sec.prev_close)
            return
        move = rng.gauss(0, sec.daily_vol * math.sqrt(fraction))
        if rng.random() < 0.08:  # a few movers of the day
            move += rng.choice((-1, 1)) * rng.uniform(0.05, 0.22)
        sec.open = self._clamp(sec, round_to_tick(sec.prev_close * (1 + rng.gauss(0, sec.daily_vol / 3))))
        sec.price = self._clamp(sec, round_to_tick(sec.prev_close * math.exp(move)))
        sec.high = self._clamp(sec, round_to_tick(max(sec.open, sec.price) * (1 + abs(rng.gauss(0, 0.006)))))
        sec.low = self._clamp(sec, round_to_tick(min(sec.open, sec.price) * (1 - abs(rng.gauss(0, 0.006)))))
        sec.high, sec.low = max(sec.high, sec.open, sec.price), min(sec.low, sec.open, sec.price)
        sec.acc_volume = int(sec.base_volume * fraction * rng.lognormvariate(0, 0.3) * (1 + 6 * abs(move)))
        sec.acc_value = int(sec.acc_volume * (sec.open + sec.high + sec.low + sec.price) / 4)
        lot = self._lot(sec)
        trades = max(1, sec.acc_volume // lot)
        sec.buy_count = int(trades * rng.uniform(0.4, 0.6))
        sec.sell_count = trades - sec.buy_count
        sec.buy_qty = int(sec.acc_volume * sec.buy_count / trades)
        sec.sell_qty = sec.acc_volume - sec.buy_qty
        self._warm_times(sec)
        sec.target = float(sec.price)

    def _session_seconds(self, moment: datetime) -> float:
        hours = None if self.always_open else trading_hours(moment.astimezone(KST).date())
        return SESSION_SECONDS if hours is None else (hours.at(hours.close) - hours.at(hours.open)).total_seconds()

    def _warm_times(self, sec: Security) -> None:
        """When the warmed day's open, high and low printed: the open when the session opened, the
        high and low somewhere between then and now (a mid-session start is not all at 09:00)."""
        opened, now = self._warm_span
        elapsed = max(0.0, (now - opened).total_seconds())
        rng = self._times_rng

        def at(extreme: int) -> str:
            if extreme == sec.open:
                return sec.open_time
            moment = now if extreme == sec.price else opened + timedelta(seconds=rng.uniform(0, elapsed))
            return moment.astimezone(KST).strftime("%H%M%S")

        sec.open_time = opened.astimezone(KST).strftime("%H%M%S")
        sec.high_time, sec.low_time = at(sec.high), at(sec.low)

    @staticmethod
    def _lot(sec: Security) -> int:
        return sec.lot

    @staticmethod
    def _clamp(sec: Security, price: int) -> int:
        return min(sec.upper, max(sec.lower, price))

    def _maybe_roll(self, moment: datetime) -> None:
        day = self._session_day_for(moment)
        if day == self.session_day:
            return
        for sec in itertools.chain(self.stocks.values(), self.elws.values()):
            if sec.history is not None and sec.acc_volume:
                sec.history.append(
                    DayBar(self.session_day, sec.open, sec.high, sec.low, sec.price, sec.acc_volume, sec.acc_value)
                )
            sec.prev_close, sec.prev_volume = sec.price, max(sec.acc_volume, 1)
        for index in self.indices.values():
            if index.history is not None:
                index.history.append(
                    DayBar(
                        self.session_day,
                        index.open,
                        index.high,
                        index.low,
                        index.value,
                        index.acc_volume,
                        index.acc_value,
                    )
                )
            index.prev_close, index.prev_volume = round(index.value, 2), max(index.acc_volume, 1)
        self.session_day = day
        self._start_session(moment, warm=False)

    # -- trading -------------------------------------------------------------------------------

    def step(self, dt: float, moment: datetime | None = None) -> list[Trade]:
        """Advance ``dt`` seconds: the trades that happened, in time order."""
        moment = moment or self.now()
        self._maybe_roll(moment)
        if not self.is_trading(moment):
            return []
        self._regime_left -= dt
        if self._regime_left <= 0:
            self._new_regime()
        expected = self.trades_per_second * self.profile(self.session_fraction(moment)) * dt + self._carry
        count = int(expected)
        self._carry = expected - count
        if count <= 0:
            return []
        clock = moment.astimezone(KST).strftime("%H%M%S")
        stocks = list(self.stocks.values())
        picks = self.rng.choices(stocks, cum_weights=self._cum_weights, k=count)
        trades = []
        for sec in picks:
            trades.append(self._trade(sec, clock))
            if self.elws and self.rng.random() < self.elw_share:
                elw = self.rng.choice(list(self.elws.values()))
                trades.append(self._trade(elw, clock))
        self.trades_generated += len(trades)
        return trades

    def force_trades(self, symbol: str, count: int) -> list[Trade]:
        """``count`` trades of one security right now (tests: a multi-record frame)."""
        sec = self.security(symbol)
        if sec is None:
            raise KeyError(symbol)
        clock = self.now().strftime("%H%M%S")
        trades = [self._trade(sec, clock) for _ in range(count)]
        self.trades_generated += len(trades)
        return trades

    def _trade(self, sec: Security, clock: str) -> Trade:
        rng = self.rng
        old = sec.price
        if sec.is_elw:
            fair = self._elw_fair(sec, sec.underlying.price)  # type: ignore[union-attr]
            price = max(ELW_TICK, fair + ELW_TICK * rng.choice((-1, 0, 0, 1)))
        else:
            price = self._walk(sec, old)
        side = "1" if price > old or (price == old and rng.random() < 0.5) else "5"
        qty = max(1, int(self._lot(sec) * rng.lognormvariate(0, 1.0)))
        if sec.acc_volume == 0:
            sec.open, sec.high, sec.low, sec.open_time = price, price, price, clock
        if price > sec.high:
            sec.high, sec.high_time = price, clock
        if price < sec.low:
            sec.low, sec.low_time = price, clock
        sec.price, sec.last_side = price, side
        sec.acc_volume += qty
        sec.acc_value += qty * price
        if side == "1":
            sec.buy_count += 1
            sec.buy_qty += qty
        else:
            sec.sell_count += 1
            sec.sell_qty += qty
        return Trade("H0EWCNT0" if sec.is_elw else "H0STCNT0", sec, qty, side, clock, price, sec.acc_volume)

    def _walk(self, sec: Security, old: int) -> int:
        """One trade's price: most trades print at the last price; moves are ticks on the ladder.

        The move probability is set so that the day's volatility is ``daily_vol`` whatever the
        configured trade rate; the direction leans towards ``target`` (surge, fade, or anchor).
        """
        rng = self.rng
        tick = round_to_tick(old) - round_to_tick(old * 0.999) or 1
        rel_tick = tick / old
        trades_per_day = max(1.0, self.trades_per_second * SESSION_SECONDS / max(1, len(self.stocks)) * sec.heat)
        p_move = min(0.6, (sec.daily_vol / rel_tick) ** 2 / trades_per_day) + sec.boost
        if rng.random() >= p_move:
            return old
        gap = math.log(sec.target / old) if sec.target > 0 else 0.0
        p_up = min(0.95, max(0.05, 0.5 + 8.0 * gap))
        ticks = 1 + int(abs(gap) / rel_tick / 40) if sec.boost else 1  # surges take bigger steps
        direction = 1 if rng.random() < p_up else -1
        return self._clamp(sec, round_to_tick(old + direction * ticks * tick))

    def _new_regime(self) -> None:
        """Surgers fade, a few new names surge: the fluctuation ranking gets new entrants."""
        self._regime_left = self.regime_seconds
        rng = self.rng
        for sec in self._fading:
            sec.boost, sec.heat, sec.target = 0.0, 1.0, float(sec.price)
        for sec in self._surging:  # give back part of the gain
            sec.boost, sec.heat = 0.3, 2.0
            sec.target = sec.prev_close + (sec.price - sec.prev_close) * rng.uniform(0.2, 0.6)
        self._fading = self._surging
        busy = set(map(id, self._fading))
        candidates = [s for s in self.stocks.values() if id(s) not in busy and s.price < s.upper]
        self._surging = self._theme_surgers(candidates)
        for sec in self._surging:
            sec.boost, sec.heat = 0.5, 6.0
            sec.target = sec.prev_close * (1 + rng.uniform(0.08, 0.3))
        # Trades per stock follow liquidity, heavy-tailed as on KRX: with the whole market (~2,500 names)
        # at 200 trades/s the largest names trade a few times a second and the median one about every
        # 30 s (a log weight spread trades evenly: 005930 traded every ~8 s).
        self._cum_weights = list(
            itertools.accumulate(math.sqrt(max(10, s.base_volume)) * s.heat for s in self.stocks.values())
        )

    def _theme_surgers(self, candidates: list[Security]) -> list[Security]:
        """The members of one named theme surge together (the news stand-in's headlines name the
        theme); a random few when no theme has two members free to surge."""
        free = {s.symbol: s for s in candidates}
        themes = [t for t in THEMES if sum(symbol in free for symbol in t.symbols) >= 2]
        if not themes:
            self.hot_theme = None
            return self.rng.sample(candidates, min(self.surge_count, len(candidates)))
        self.hot_theme = self.rng.choice(themes)
        members = [free[symbol] for symbol in self.hot_theme.symbols if symbol in free]
        return self.rng.sample(members, min(len(members), max(self.surge_count, THEME_SURGE_MAX)))

    # -- indices -------------------------------------------------------------------------------

    def _update_index(self, index: IndexState) -> None:
        move = sum(w * (m.price / m.prev_close - 1) for w, m in zip(index.weights, index.members, strict=True))
        index.value = round(index.prev_close * (1 + move), 2)
        index.high = max(index.high, index.value)
        index.low = min(index.low, index.value)

    def update_indices(self) -> list[IndexState]:
        for index in self.indices.values():
            self._update_index(index)
        return list(self.indices.values())

    # -- daily history -------------------------------------------------------------------------

    def history(self, symbol: str) -> list[DayBar]:
        """Daily bars before the session day, oldest first, ending at the previous close."""
        sec = self.security(symbol)
        if sec is not None:
            if sec.history is None:
                sec.history = self._make_history(
                    symbol, sec.prev_close, sec.daily_vol, sec.base_volume, ticks=True, elw=sec.is_elw
                )
            return sec.history
        index = self.indices[symbol]
        if index.history is None:
            index.history = self._make_history(symbol, index.prev_close, 0.009, index.prev_volume, ticks=False)
        return index.history

    def bars_with_today(self, symbol: str) -> list[DayBar]:
        bars = list(self.history(symbol))
        sec = self.security(symbol)
        if sec is not None and sec.acc_volume:
            bars.append(DayBar(self.session_day, sec.open, sec.high, sec.low, sec.price, sec.acc_volume, sec.acc_value))
        elif sec is None:
            index = self.indices[symbol]
            if index.acc_volume:
                bars.append(
                    DayBar(
                        self.session_day,
                        index.open,
                        index.high,
                        index.low,
                        index.value,
                        index.acc_volume,
                        index.acc_value,
                    )
                )
        return bars

    def _make_history(
        self, symbol: str, last_close: float, vol: float, base_volume: int, *, ticks: bool, elw: bool = False
    ) -> list[DayBar]:
        """A random walk backwards from ``last_close``, vectorised: the whole market (2,500 companies) is
        built on the simulator's event loop the first time each is asked, so a company costs a few numpy
        calls rather than ~800 iterations of scalar rounding and sampling."""
        rng = np.random.default_rng(_history_seed(f"{self.seed}:{symbol}:{self.session_day.isoformat()}:history"))
        days = _history_days(self.session_day - timedelta(days=self.history_days), self.session_day)
        count = len(days)

        def fit(prices: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            if ticks:
                return round_to_tick_array(prices, elw).astype(np.float64)
            return np.round(prices, 2)

        # closes[k] for k = -1 .. count-1: the day before the first bar, then each bar's close. The walk goes
        # back from the last close, which each earlier close divides by the day's return (capped at 25%,
        # inside the 30% daily limit); prices are rounded once each, not compounded through the rounding.
        returns = 1 + np.clip(rng.normal(0.0003, vol, count), -0.25, 0.25)
        back = np.concatenate(([1.0], np.cumprod(returns[::-1])))
        walk = fit(float(last_close) / back)[::-1]
        prev, closes = walk[:-1], walk[1:]

        lower: npt.NDArray[np.float64]
        upper: npt.NDArray[np.float64]
        if elw:  # ELWs have no daily price limit
            lower, upper = np.full(count, float(ELW_TICK)), np.full(count, 1e9)
        elif ticks:
            low_limit, high_limit = price_limits_array(prev.astype(np.int64))
            lower, upper = low_limit.astype(np.float64), high_limit.astype(np.float64)
        else:
            lower, upper = prev * 0.7, prev * 1.3
        opened = np.clip(fit(prev * (1 + rng.normal(0, vol / 3, count))), lower, upper)
        top, bottom = np.maximum(opened, closes), np.minimum(opened, closes)
        high = np.minimum(upper, np.maximum(top, fit(top * (1 + np.abs(rng.normal(0, vol / 2, count))))))
        low = np.maximum(lower, np.minimum(bottom, fit(bottom * (1 - np.abs(rng.normal(0, vol / 2, count))))))
        safe_prev = np.where(prev != 0, prev, 1.0)
        change = np.where(prev != 0, np.abs(closes / safe_prev - 1), 0.0)
        volume = np.maximum(1, np.floor(base_volume * rng.lognormal(0, 0.35, count) * (1 + 8 * change)))
        value = np.floor(volume * (opened + high + low + closes) / 4)

        # plain ints (stocks, ELWs) or floats (indices) in the bars, as the JSON encoders and tests expect
        def column(values: npt.NDArray[np.float64]) -> list[float]:
            return values.astype(np.int64).tolist() if ticks else values.tolist()  # type: ignore[no-any-return]

        return [
            DayBar(day, o, h, lo, c, v, va)
            for day, o, h, lo, c, v, va in zip(
                days,
                column(opened),
                column(high),
                column(low),
                column(closes),
                volume.astype(np.int64).tolist(),
                value.astype(np.int64).tolist(),
                strict=True,
            )
        ]


def _history_seed(key: str) -> int:
    """A stable 64-bit seed for numpy from the history's key (``hash`` of a str changes per process)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


@functools.lru_cache(maxsize=8)
def _history_days(start: date, session_day: date) -> tuple[date, ...]:
    """The KRX trading days from ``start`` to the day before the session: the same for every company."""
    return tuple(trading_days(start, session_day - timedelta(days=1)))


def aggregate(bars: list[DayBar], period: str) -> list[DayBar]:
    """Daily bars -> weekly (W), monthly (M) or yearly (Y) bars dated by their last day."""
    if period not in ("W", "M", "Y"):
        return bars

    def bucket(day: date) -> tuple[int, ...]:
        if period == "W":
            return tuple(day.isocalendar()[:2])
        return (day.year, day.month) if period == "M" else (day.year,)

    out: list[DayBar] = []
    for _, group in itertools.groupby(bars, key=lambda b: bucket(b.day)):
        g = list(group)
        out.append(
            DayBar(
                g[-1].day,
                g[0].open,
                max(b.high for b in g),
                min(b.low for b in g),
                g[-1].close,
                sum(b.volume for b in g),
                sum(b.value for b in g),
            )
        )
    return out


def bars_between(bars: list[DayBar], start: date, end: date) -> list[DayBar]:
    days = [b.day for b in bars]
    return bars[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)]


__all__ = ["DayBar", "IndexState", "Market", "Security", "Trade", "aggregate", "bars_between", "time"]
