"""Theme names: spacing, case, punctuation and synonyms never make two themes of one (issue 14)."""

from __future__ import annotations

import pytest

from kstock.themes.names import (
    SYNONYM_GROUPS,
    canonical,
    clean_name,
    compact,
    match_theme,
    same_theme,
    spellings,
    theme_key,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2차 전지", "2차전지"),
        ("2차전지", "이차전지"),
        ("이차 전지 ", "2차전지"),
        ("2차전지 관련주", "2차전지"),
        ("HBM", "고대역폭메모리"),
        ("hbm", "고대역폭 메모리"),
        ("방산", "방위산업"),
        ("K-방산", "방산주"),
        ("원전", "원자력"),
        ("원자력 발전", "원전"),
        ("전력기기", "전력설비"),
        ("우주항공", "항공우주"),
        ("우주 항공", "항공 우주"),
        ("엔터", "엔터테인먼트"),
        ("AI", "인공지능"),
        ("A.I.", "ai"),
        ("K-뷰티", "화장품"),
        ("제약·바이오", "바이오"),
        ("조선 테마", "조선업"),
        ("양자 컴퓨터", "양자컴퓨터 관련주"),  # unknown to the table: spacing and suffix still do not matter
        ("HBM/반도체", "반도체"),  # a compound name matches one of its parts
        ("HBM/반도체", "고대역폭메모리"),  # ... through the part's synonyms
    ],
)
def test_same_theme(a, b):
    assert same_theme(a, b)
    assert same_theme(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("2차전지", "반도체"),
        ("원전", "SMR"),  # a micro theme of its own, not the whole nuclear theme
        ("AI", "KAI"),
        ("조선", "해운"),
        ("AI/반도체", "HBM/반도체"),  # sharing a part is not the same theme
        ("", "방산"),
        ("!!", "!!"),  # nothing left after punctuation is no name at all
    ],
)
def test_different_themes(a, b):
    assert not same_theme(a, b)


def test_compact_removes_spacing_case_and_punctuation():
    assert compact(" K-뷰티 ") == "k뷰티"
    assert compact("2차  전지") == "2차전지"
    assert compact("Ａ.Ｉ.") == "ai"  # full-width letters too (NFKC)


def test_canonical_names_of_known_spellings():
    assert canonical("이차 전지") == "2차전지"
    assert canonical("방위산업") == "방산"
    assert canonical("인공지능 관련주") == "AI"
    assert canonical("초전도체") is None
    assert theme_key("항공 우주") == theme_key("우주항공") == "우주항공"


def test_match_theme_maps_a_new_name_onto_the_existing_theme():
    existing = ["2차전지", "HBM/반도체", "방산", "원전", "전력설비"]

    assert match_theme("2차 전지", existing) == "2차전지"
    assert match_theme("이차전지", existing) == "2차전지"
    assert match_theme("고대역폭메모리", existing) == "HBM/반도체"
    assert match_theme("방위산업", existing) == "방산"
    assert match_theme("원자력", existing) == "원전"
    assert match_theme("전력기기", existing) == "전력설비"
    assert match_theme("초전도체", existing) is None
    assert match_theme("", existing) is None


def test_an_exact_match_wins_over_a_compound_part():
    assert match_theme("반도체", ["HBM/반도체", "반도체"]) == "반도체"


def test_a_name_that_is_a_part_of_two_compounds_is_not_guessed():
    assert match_theme("반도체", ["HBM/반도체", "AI/반도체"]) is None


def test_clean_name_tidies_a_new_theme_name():
    assert clean_name("  양자   컴퓨터 관련주 ") == "양자 컴퓨터"
    assert clean_name("이차 전지") == "2차전지"  # a known spelling becomes the canonical one
    assert clean_name("초전도체") == "초전도체"


def test_every_spelling_is_in_exactly_one_group():
    seen: dict[str, str] = {}
    for group in SYNONYM_GROUPS:
        for spelling in group:
            key = compact(spelling)
            assert seen.setdefault(key, group[0]) == group[0], spelling
            assert canonical(spelling) == group[0]
    assert spellings("방위산업")[0] == "방산"
    assert tuple(spellings("초전도체")) == ("초전도체",)
