"""The simulated market's named themes: groups of companies that move together.

The KIS simulator surges a whole theme at a time (:meth:`infra.kis_sim.market.Market._new_regime`),
and the Naver stand-in writes headlines that name each company's themes, so a surging symbol
can always be explained by the news of the same simulated market (the theme-sync issue).
Members are symbols of ``kstock/data/companies.csv``; a theme may share members with another.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Theme:
    name: str  # as Korean market news writes it
    keywords: tuple[str, ...]  # words the headlines about it use
    symbols: tuple[str, ...]


THEMES: tuple[Theme, ...] = (
    Theme(
        "2차전지",
        ("양극재", "전기차 배터리", "리튬"),
        ("373220", "006400", "003670", "247540", "086520", "066970", "450080", "361610", "348370", "121600"),
    ),
    Theme(
        "HBM/반도체",
        ("HBM", "AI 반도체", "메모리"),
        (
            "000660",
            "005930",
            "042700",
            "403870",
            "058470",
            "240810",
            "039030",
            "089030",
            "095340",
            "007660",
            "440110",
            "067310",
        ),
    ),
    Theme("방산", ("K-방산", "수출 계약", "무기체계"), ("012450", "079550", "064350", "047810", "272210", "103140")),
    Theme("원전", ("SMR", "원자력", "체코 원전"), ("034020", "052690", "051600", "015760")),
    Theme(
        "조선",
        ("LNG선", "수주", "선박 발주"),
        ("329180", "042660", "010140", "009540", "010620", "443060", "082740", "071970"),
    ),
    Theme(
        "바이오",
        ("신약", "임상", "기술이전"),
        ("207940", "068270", "196170", "028300", "141080", "298380", "000100", "326030", "087010"),
    ),
    Theme("로봇", ("휴머노이드", "협동로봇", "자동화"), ("454910", "277810", "108490", "056190")),
    Theme("AI", ("생성형 AI", "데이터센터", "클라우드"), ("035420", "035720", "018260", "064400", "328130", "012510")),
    Theme("전력설비", ("변압기", "전력망", "송전"), ("267260", "298040", "010120", "062040", "033100", "001440")),
    Theme(
        "화장품",
        ("K-뷰티", "수출", "인디 브랜드"),
        ("090430", "278470", "161890", "192820", "257720", "018290", "241710", "051900"),
    ),
    Theme("엔터", ("K-팝", "컴백", "월드투어"), ("352820", "041510", "035900", "122870", "035760", "253450")),
    Theme(
        "게임", ("신작", "출시", "글로벌 흥행"), ("259960", "036570", "251270", "263750", "293490", "225570", "112040")
    ),
    Theme("우주항공", ("위성", "발사체", "누리호"), ("047810", "012450", "272210", "003490")),
)


def themes_of(symbol: str) -> list[Theme]:
    """The themes a company belongs to, in table order."""
    return [theme for theme in THEMES if symbol in theme.symbols]


def theme_named(name: str) -> Theme | None:
    return next((theme for theme in THEMES if theme.name == name), None)
