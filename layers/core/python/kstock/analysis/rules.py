"""The rule-based analysis: a transparent growth score and a templated summary, never presented as AI.

Score = 50 + the sum of the components' contributions, clamped to 0-100 and rounded. Each component
reads one metric of the input and contributes ``clamp(value, -cap, cap) / cap * weight`` (rounded to two
decimals, so anyone can add the shown contributions up to the shown score):

=========================  ==========================  ======  ======
component                  metric                      cap     weight
=========================  ==========================  ======  ======
revenue growth             fig:revenue_growth (%)      30      15
operating-profit growth    fig:operating_profit_growth 50      10
margin trend               fig:margin_change (%p)      5       10
momentum                   fig:momentum_60d (%)        30      10
relative strength          fig:rs_rank - 50 (points)   50      10
news volume                fig:news_count (items)      0..10   0..5
=========================  ==========================  ======  ======

A metric kstock does not hold contributes 0 and is listed as missing. Outlook: score >= 60 positive,
<= 40 negative, else neutral.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from kstock.analysis.inputs import AnalysisInput, Metric
from kstock.schemas import CamelModel

RULES_MODEL = "rules"
BASE_SCORE = 50.0
POSITIVE_AT, NEGATIVE_AT = 60, 40
Outlook = Literal["positive", "neutral", "negative"]
NEWS_FULL = 10.0  # news items for the full news contribution


class Component(CamelModel):
    name: str
    metric: str  # the citation id of the metric read
    label: str
    value: float | None
    unit: str
    weight: float
    contribution: float
    formula: str


@dataclass(frozen=True)
class _Rule:
    name: str
    metric: str
    cap: float
    weight: float
    transform: Callable[[float], float]
    formula: str


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


RULES = (
    _Rule("revenue_growth", "revenue_growth", 30.0, 15.0, lambda v: v, "clamp(v,-30,30)/30*15"),
    _Rule("operating_profit_growth", "operating_profit_growth", 50.0, 10.0, lambda v: v, "clamp(v,-50,50)/50*10"),
    _Rule("margin_trend", "margin_change", 5.0, 10.0, lambda v: v, "clamp(v,-5,5)/5*10"),
    _Rule("momentum", "momentum_60d", 30.0, 10.0, lambda v: v, "clamp(v,-30,30)/30*10"),
    _Rule("relative_strength", "rs_rank", 50.0, 10.0, lambda v: v - 50.0, "clamp(v-50,-50,50)/50*10"),
)


def components(data: AnalysisInput) -> list[Component]:
    out: list[Component] = []
    for rule in RULES:
        metric = data.metrics.get(rule.metric)
        value = metric.value if metric else None
        contribution = 0.0
        if value is not None:
            contribution = round(_clamp(rule.transform(value), -rule.cap, rule.cap) / rule.cap * rule.weight, 2)
        out.append(_component(rule.name, metric, rule.metric, value, rule.weight, contribution, rule.formula))
    news = data.metrics.get("news_count")
    count = news.value if news else None
    contribution = round(_clamp(count or 0.0, 0.0, NEWS_FULL) / NEWS_FULL * 5.0, 2) if count is not None else 0.0
    out.append(_component("news_volume", news, "news_count", count, 5.0, contribution, "min(v,10)/10*5"))
    return out


def _component(
    name: str, metric: Metric | None, key: str, value: float | None, weight: float, contribution: float, formula: str
) -> Component:
    return Component(
        name=name,
        metric=metric.id if metric else f"fig:{key}",
        label=metric.label if metric else key,
        value=value,
        unit=metric.unit if metric else "",
        weight=weight,
        contribution=contribution,
        formula=formula,
    )


def score_of(parts: list[Component]) -> int:
    """The growth score from shown contributions (what a reader or a test recomputes)."""
    return int(round(_clamp(BASE_SCORE + sum(p.contribution for p in parts), 0.0, 100.0)))


def outlook_of(score: int) -> Outlook:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def _fmt(value: float, unit: str) -> str:
    sign = "+" if value > 0 and unit in ("%", "%p") else ""
    return f"{sign}{value:g}{unit}"


def summary_of(data: AnalysisInput, parts: list[Component], score: int) -> str:
    """Korean sentences that state only the figures used, and say which are missing."""
    subject = f"{data.name}({data.symbol})" if data.symbol else f"{data.name} 업종"
    used = [p for p in parts if p.value is not None]
    missing = [p.label for p in parts if p.value is None]
    sentences = [f"{subject}의 규칙 기반 성장 점수는 {score}점입니다(AI 분석이 아닌 저장된 데이터의 계산 결과)."]
    if used:
        facts = ", ".join(f"{p.label} {_fmt(p.value or 0.0, p.unit)}" for p in used)
        sentences.append(f"사용한 수치는 {facts}입니다.")
    if missing:
        sentences.append(f"다음 데이터는 없어 점수에 반영하지 않았습니다: {', '.join(missing)}.")
    if data.themes:
        sentences.append(f"소속 테마는 {', '.join(data.themes)}입니다.")
    return " ".join(sentences)
