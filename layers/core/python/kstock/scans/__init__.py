"""Full-market scan math over a panel of daily bars: trend template, RS rank, VCP, smart money, grading.

Pure functions of numpy arrays (symbols x days, time on the last axis), each module documenting its
rules; :mod:`kstock.scans.panel` composes them for one chunk of a scan.
"""

from kstock.scans.grading import Grades, grade, grade_all, krx_tick, total_score, trade_prices
from kstock.scans.panel import Analysis, Bars, InvestorFlows, analyse
from kstock.scans.rs import rank_against, rs_rank, weighted_return
from kstock.scans.smartmoney import smart_money_score
from kstock.scans.trend import RULES, TrendTemplate, trend_template
from kstock.scans.vcp import Vcp, detect_vcp

__all__ = [
    "RULES",
    "Analysis",
    "Bars",
    "Grades",
    "InvestorFlows",
    "TrendTemplate",
    "Vcp",
    "analyse",
    "grade",
    "grade_all",
    "krx_tick",
    "rank_against",
    "rs_rank",
    "smart_money_score",
    "total_score",
    "trade_prices",
    "trend_template",
    "detect_vcp",
    "weighted_return",
]
