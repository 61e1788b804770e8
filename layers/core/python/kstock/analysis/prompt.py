"""The prompt of an analysis: the grounded input, every item with its id, and the rules of the answer."""

from __future__ import annotations

from kstock.analysis.inputs import AnalysisInput

SYSTEM = (
    "너는 한국 주식 애널리스트다. 아래에 주어진 데이터만 근거로 전망을 쓴다. 주어진 데이터 밖의 지식, 기억, "
    "추측은 쓰지 않는다. 데이터가 없거나 부족하면 없다고 분명히 말한다. JSON으로만 답한다."
)

RULES = (
    "규칙:\n"
    "1. summary는 한국어 3~5문장. 주어진 수치만 인용하고, 빠진 데이터는 '데이터 없음'이라고 밝힌다.\n"
    "2. outlook은 positive, neutral, negative 중 하나.\n"
    "3. growthScore는 0~100의 정수 (50이 중립).\n"
    "4. drivers와 risks의 각 항목은 한 문장(text)과 근거 id 목록(citations). citations에는 위 목록의 "
    "[대괄호] 안 id만, 하나 이상 넣는다. 목록에 없는 id를 만들지 않는다."
)


def _figures(data: AnalysisInput) -> list[str]:
    # A missing figure is shown without an id: the model must say it is missing, and cannot cite it
    # (only what the input holds is citable; see AnalysisInput.citables).
    lines = []
    for metric in data.metrics.values():
        if metric.value is None:
            lines.append(f"- {metric.label}: 데이터 없음")
        else:
            lines.append(f"[{metric.id}] {metric.label}: {metric.value:g}{metric.unit}")
    return lines


def build_prompt(data: AnalysisInput) -> str:
    head = f"종목: {data.name} ({data.symbol})" if data.subject == "company" else f"업종: {data.name}"
    parts = [head]
    if data.industry:
        parts.append(f"업종: {data.industry}")
    parts.append("수치 (id, 이름, 값):\n" + "\n".join(_figures(data)))
    if data.labels:
        parts.append("기타: " + ", ".join(f"{k}={v}" for k, v in data.labels.items()))
    if data.yearly or data.quarterly:
        rows = [
            f"- {r['fiscal_year']} {r['period']}: 매출 {r['revenue']}, 영업이익 {r['operating_profit']}, "
            f"순이익 {r['net_income']} (원)"
            for r in [*data.yearly, *data.quarterly]
        ]
        parts.append("재무 (근거 id는 위 fig:*):\n" + "\n".join(rows))
    else:
        parts.append("재무: 데이터 없음")
    news = [f"[{n.id}] {n.title} - {n.description or ''}".rstrip(" -") for n in data.news]
    parts.append("최근 30일 뉴스:\n" + ("\n".join(news) if news else "데이터 없음"))
    if data.subject == "company":
        filings = [f"[{f.id}] {f.title} ({f.at.date() if f.at else ''})" for f in data.filings]
        parts.append("최근 공시:\n" + ("\n".join(filings) if filings else "데이터 없음"))
        parts.append("테마: " + (", ".join(data.themes) if data.themes else "없음"))
    else:
        parts.append("회원사: " + (", ".join(data.members) if data.members else "없음"))
    parts.append(RULES)
    return "\n\n".join(parts)
