"""What the DART stand-in knows, reproducible from a seed: corp codes, filings and key accounts.

* Corp codes: one per seeded company (``kstock.companies.reference.load_companies()``), padded
  with unlisted entries (blank stock code, as most of the real file) and a few listed companies
  kstock does not seed, up to ``corp_code_count`` entries.
* Filings: each company's periodic reports on the real calendar (Q1 report in mid-May, half-year
  in mid-August, Q3 in mid-November, the annual report in March of the next year) plus a few
  major-event reports; a filing exists once its day has come (the stand-in's clock).
* Key accounts: revenue scaled to the company's market cap in the KIS simulator's market (same
  seed), a seeded growth path and margins; the four quarters add up to the year. Most companies
  file consolidated (CFS) and separate (OFS) statements, a seeded quarter of them OFS only.

Everything is labelled: filer names and report titles end in ``(simulated)`` and every answer
carries the ``X-Kstock-Source: simulated`` header the client turns into source ``simulated``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

from kstock.companies.reference import CompanyRow, load_companies
from kstock.dart.models import ANNUAL, FIRST_QUARTER, HALF, THIRD_QUARTER

SIM_LABEL = "(simulated)"

# (reprt_code, title month, filing month, earliest filing day, filed the next year)
_PERIODIC = (
    (FIRST_QUARTER, "03", 5, 10, False),
    (HALF, "06", 8, 10, False),
    (THIRD_QUARTER, "09", 11, 10, False),
    (ANNUAL, "12", 3, 10, True),
)
_TITLES = {FIRST_QUARTER: "분기보고서", HALF: "반기보고서", THIRD_QUARTER: "분기보고서", ANNUAL: "사업보고서"}
_MAJOR_EVENTS = (
    "주요사항보고서(자기주식취득결정)",
    "주요사항보고서(유상증자결정)",
    "주요사항보고서(전환사채권발행결정)",
)


@dataclass(frozen=True, slots=True)
class CorpEntry:
    corp_code: str
    corp_name: str
    stock_code: str  # "" for unlisted entries (written as a single space, as DART does)
    modify_date: date
    company: CompanyRow | None = None


@dataclass(frozen=True, slots=True)
class SimFiling:
    receipt_no: str
    corp: CorpEntry
    title: str
    filed_on: date
    kind: str  # pblntf_ty: A periodic, B major event
    reprt_code: str | None  # the periodic report it is, if any
    year: int | None


@dataclass(frozen=True, slots=True)
class Figures:
    revenue: int
    operating_profit: int
    net_income: int

    def scaled(self, factor: float) -> Figures:
        return Figures(
            _round(self.revenue * factor), _round(self.operating_profit * factor), _round(self.net_income * factor)
        )


def _round(value: float) -> int:
    return int(round(value / 1_000_000)) * 1_000_000  # DART key accounts of large filers are whole millions


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def market_caps(seed: int) -> dict[str, float]:
    """Market cap per symbol in the KIS simulator's market of the same seed (so sizes agree)."""
    from kstock_local.kis_sim.market import Market  # builds the simulator's universe: a second, once

    market = Market(seed, history_days=1, elw_count=0)
    return {s.symbol: float(s.prev_close * s.listed_shares) for s in market.stocks.values()}


class DartContent:
    """The stand-in's data; built once per seed, filtered per request by the clock's day."""

    def __init__(
        self, seed: int, *, corp_code_count: int = 1000, history_years: int = 4, today: date | None = None
    ) -> None:
        self.seed = seed
        self.corp_code_count = corp_code_count
        self.history_years = history_years
        self.first_year = (today or date.today()).year - history_years
        self.last_year = (today or date.today()).year

    # -- corp codes ------------------------------------------------------------------------------

    @cached_property
    def corps(self) -> list[CorpEntry]:
        companies = load_companies()
        rng = random.Random(f"{self.seed}:dart:corps")
        total = max(self.corp_code_count, len(companies))
        numbers = rng.sample(range(100_000, 1_400_000), total)
        entries = [
            CorpEntry(f"{n:08d}", c.name, c.symbol, date(2025, 1, 1) + timedelta(rng.randrange(300)), c)
            for n, c in zip(numbers, companies, strict=False)
        ]
        taken = {c.symbol for c in companies}
        for i, number in enumerate(numbers[len(companies) :]):
            listed = i % 20 == 0  # a few listed companies kstock does not seed
            stock_code = f"9{(i * 7919) % 100_000:05d}" if listed else ""
            if stock_code in taken:
                stock_code = ""
            taken.add(stock_code)
            entries.append(
                CorpEntry(
                    f"{number:08d}",
                    f"시뮬레이션기업{i:05d}",
                    stock_code,
                    date(2015, 1, 1) + timedelta(rng.randrange(3600)),
                )
            )
        return entries

    @cached_property
    def corp_by_code(self) -> dict[str, CorpEntry]:
        return {c.corp_code: c for c in self.corps}

    @cached_property
    def seeded_corps(self) -> list[CorpEntry]:
        return [c for c in self.corps if c.company is not None]

    # -- filings ---------------------------------------------------------------------------------

    @cached_property
    def filings(self) -> list[SimFiling]:
        """Every filing of every seeded company over the years, newest first, receipt numbers unique."""
        drafts: list[tuple[date, str, CorpEntry, str, str, str | None, int | None]] = []
        for corp in self.seeded_corps:
            rng = random.Random(f"{self.seed}:dart:filings:{corp.corp_code}")
            for year in range(self.first_year, self.last_year + 1):
                for code, title_month, month, first_day, next_year in _PERIODIC:
                    filed = _weekday_on_or_after(date(year + next_year, month, first_day + rng.randrange(5)))
                    title = f"{_TITLES[code]} ({year}.{title_month}) {SIM_LABEL}"
                    drafts.append((filed, corp.stock_code, corp, title, "A", code, year))
                for _ in range(rng.choice((0, 0, 1, 2))):
                    filed = _weekday_on_or_after(date(year, 1, 1) + timedelta(rng.randrange(365)))
                    drafts.append(
                        (filed, corp.stock_code, corp, f"{rng.choice(_MAJOR_EVENTS)} {SIM_LABEL}", "B", None, None)
                    )
        drafts.sort(key=lambda d: (d[0], d[1], d[3]))
        filings: list[SimFiling] = []
        serial, day = 0, None
        for filed, _symbol, owner, title, kind, report_code, report_year in drafts:
            serial = serial + 1 if filed == day else 1  # receipt numbers count per day, as DART's do
            day = filed
            filings.append(
                SimFiling(f"{filed:%Y%m%d}9{serial:05d}", owner, title, filed, kind, report_code, report_year)
            )
        filings.reverse()
        return filings

    def periodic_filing(self, corp_code: str, year: int, reprt_code: str) -> SimFiling | None:
        return self._periodic_index.get((corp_code, year, reprt_code))

    @cached_property
    def _periodic_index(self) -> dict[tuple[str, int, str], SimFiling]:
        return {
            (f.corp.corp_code, f.year, f.reprt_code): f
            for f in self.filings
            if f.reprt_code is not None and f.year is not None
        }

    # -- figures ---------------------------------------------------------------------------------

    @cached_property
    def _caps(self) -> dict[str, float]:
        return market_caps(self.seed)

    def files_consolidated(self, corp: CorpEntry) -> bool:
        return random.Random(f"{self.seed}:dart:cfs:{corp.corp_code}").random() >= 0.25

    def separate_share(self, corp: CorpEntry) -> float:
        """The parent's share of the group's figures in its separate (OFS) statements."""
        return random.Random(f"{self.seed}:dart:ofs:{corp.corp_code}").uniform(0.55, 0.95)

    def quarters(self, corp: CorpEntry, year: int) -> list[Figures]:
        """The four quarters of a year (consolidated when the company files CFS)."""
        company = corp.company
        assert company is not None
        profile = random.Random(f"{self.seed}:dart:profile:{corp.corp_code}")
        cap = self._caps.get(company.symbol) or 1e11
        revenue = cap / math.exp(profile.uniform(math.log(0.3), math.log(4.0)))  # price-to-sales 0.3..4
        margin = profile.uniform(-0.04, 0.22)
        growth = random.Random(f"{self.seed}:dart:growth:{corp.corp_code}")
        for _ in range(self.last_year - year):  # walk back from the latest year
            revenue /= 1 + growth.gauss(0.06, 0.12)
        rng = random.Random(f"{self.seed}:dart:year:{corp.corp_code}:{year}")
        year_margin = margin + rng.uniform(-0.03, 0.03)
        weights = [w + rng.uniform(-0.02, 0.02) for w in (0.24, 0.25, 0.25, 0.26)]
        total = sum(weights)
        result = []
        for weight in weights:
            quarter_revenue = revenue * weight / total
            operating = quarter_revenue * (year_margin + rng.uniform(-0.02, 0.02))
            net = operating * rng.uniform(0.6, 0.9) + quarter_revenue * rng.uniform(-0.01, 0.01)
            result.append(Figures(_round(quarter_revenue), _round(operating), _round(net)))
        return result

    def year_figures(self, corp: CorpEntry, year: int) -> Figures:
        quarters = self.quarters(corp, year)
        return Figures(
            sum(q.revenue for q in quarters),
            sum(q.operating_profit for q in quarters),
            sum(q.net_income for q in quarters),
        )
