"""Scan math on constructed series whose answer is known: the trend template's eight rules, RS rank
ordering and weighting, the VCP detector and its pivot, the smart-money score, total score, grades and
trade prices (kstock.scans; issue 15)."""

from __future__ import annotations

import numpy as np
import pytest

from kstock.scans import (
    RULES,
    Bars,
    InvestorFlows,
    analyse,
    detect_vcp,
    grade,
    krx_tick,
    rank_against,
    rs_rank,
    smart_money_score,
    total_score,
    trade_prices,
    trend_template,
    weighted_return,
)


def _path(points: list[tuple[int, float]]) -> np.ndarray:
    """A piecewise-linear series through (day, price) points, one value per day up to the last point."""
    days = [d for d, _ in points]
    return np.interp(np.arange(days[-1] + 1), days, [p for _, p in points])


def _bars(close: np.ndarray, spread: float = 0.004) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return close * (1 + spread), close * (1 - spread), close


# An advance from 40 to 100 (thousand won), then three contractions: 100 -> 78, 96 -> 86.4, 94 -> 90.2,
# each shallower than the one before, and the close back up at 92.5 near the last contraction's high.
VCP_POINTS = [(0, 40.0), (150, 100.0), (165, 78.0), (180, 96.0), (190, 86.4), (200, 94.0), (206, 90.2), (212, 92.5)]
LAST_HIGH_DAY = 200


def _vcp_bars(points: list[tuple[int, float]] = VCP_POINTS, dry_from: int | None = LAST_HIGH_DAY) -> dict:
    close = _path(points) * 1000
    high, low, close = _bars(close)
    volume = np.full(close.shape, 1_000_000.0)
    if dry_from is not None:
        volume[dry_from:] = 400_000.0
    return {"high": high, "low": low, "close": close, "volume": volume}


class TestTrendTemplate:
    def test_a_clean_uptrend_passes_every_rule(self) -> None:
        close = 20_000 * 1.004 ** np.arange(260.0)
        high, low, close = _bars(close)
        result = trend_template(close, high, low, [80.0])
        assert all(bool(result.rules[name][0]) for name in RULES), {n: bool(r[0]) for n, r in result.rules.items()}
        assert result.passed[0] and result.count[0] == 8

    def test_a_downtrend_fails_the_named_rules(self) -> None:
        close = 50_000 * 0.996 ** np.arange(260.0)
        high, low, close = _bars(close)
        result = trend_template(close, high, low, [20.0])
        failed = {name for name in RULES if not result.rules[name][0]}
        assert failed == set(RULES)  # a steady decline breaks all eight
        assert not result.passed[0] and result.count[0] == 0

    def test_rs_rank_70_is_the_line(self) -> None:
        close = 20_000 * 1.004 ** np.arange(260.0)
        high, low, close = _bars(np.vstack([close, close]))
        result = trend_template(close, high, low, [70.0, 69.0])
        assert result.passed.tolist() == [True, False]
        assert result.rules["rs_rank_at_least_70"].tolist() == [True, False]
        assert result.count.tolist() == [8, 7]

    def test_the_52_week_range_rules_sit_on_their_boundaries(self) -> None:
        close = np.vstack([np.full(260, 26_000.0)] * 2 + [np.full(260, 27_000.0)] * 2)
        high, low = close + 100, close - 100
        low[0, 100], low[1, 100] = 20_000.0, 20_200.0  # 26,000 is exactly 30% above 20,000; 28.7% above 20,200
        high[2, 120], high[3, 120] = 36_000.0, 36_500.0  # 27,000 is exactly 25% under 36,000; 26% under 36,500
        result = trend_template(close, high, low, [99.0] * 4)
        assert result.rules["above_52w_low_by_30pct"].tolist() == [True, False, False, False]
        assert result.rules["within_25pct_of_52w_high"].tolist() == [True, True, True, False]

    def test_a_short_history_cannot_pass(self) -> None:
        close = 20_000 * 1.004 ** np.arange(260.0)
        close[:100] = np.nan  # listed 160 days ago: no SMA200
        high, low, close = _bars(close)
        result = trend_template(close, high, low, [99.0])
        assert not result.passed[0]
        assert not result.rules["sma150_above_sma200"][0] and not result.rules["sma200_rising"][0]
        assert result.rules["close_above_sma50"][0]  # the rules it can judge still hold

    def test_a_flat_sma200_is_not_rising_and_a_flat_close_is_not_above_its_averages(self) -> None:
        high, low, close = _bars(np.full(260, 30_000.0))
        result = trend_template(close, high, low, [99.0])
        assert not result.rules["sma200_rising"][0] and not result.rules["close_above_sma50"][0]
        assert result.rules["within_25pct_of_52w_high"][0] and not result.rules["above_52w_low_by_30pct"][0]


class TestRsRank:
    def test_faster_growth_ranks_higher_from_1_to_99(self) -> None:
        rates = np.linspace(-0.002, 0.004, 100)
        close = 10_000 * np.exp(np.outer(rates, np.arange(260.0)))
        ranks = rs_rank(close)
        assert ranks[0] == 1 and ranks[-1] == 99
        assert (np.diff(ranks) >= 0).all() and len(np.unique(ranks)) > 90

    def test_the_last_quarter_weighs_twice_an_earlier_one(self) -> None:
        days = 253
        last_quarter = _path([(0, 100.0), (189, 100.0), (252, 120.0)])  # +20% in the newest quarter
        first_quarter = _path([(0, 100.0), (63, 120.0), (252, 120.0)])  # +20% in the oldest quarter
        assert last_quarter.size == first_quarter.size == days
        returns = weighted_return(np.vstack([last_quarter, first_quarter]))
        np.testing.assert_allclose(returns, [0.4 * 0.2, 0.2 * 0.2], rtol=1e-12)
        assert rs_rank(np.vstack([last_quarter, first_quarter])).tolist() == [75.0, 25.0]

    def test_without_253_closes_there_is_no_rank(self) -> None:
        close = np.vstack([np.linspace(100, 200, 300), np.linspace(100, 150, 300)])
        close[1, :48] = np.nan  # 252 closes: one short
        assert np.isnan(weighted_return(close)[1]) and not np.isnan(weighted_return(close)[0])
        ranks = rs_rank(close)
        assert np.isnan(ranks[1]) and ranks[0] == 50.0  # alone among the ranked

    def test_a_chunk_ranked_against_the_universe_matches_the_whole_scan(self) -> None:
        rng = np.random.default_rng(5)
        close = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 260)), axis=1))
        whole = rs_rank(close)
        universe = weighted_return(close)
        chunks = [rank_against(weighted_return(close[i : i + 70]), universe) for i in range(0, 300, 70)]
        np.testing.assert_array_equal(np.concatenate(chunks), whole)

    def test_ties_share_a_rank(self) -> None:
        assert rank_against([0.1, 0.1, 0.2, 0.0], [0.1, 0.1, 0.2, 0.0]).tolist() == [50.0, 50.0, 87.0, 12.0]


class TestVcp:
    def test_three_contractions_are_found_with_their_pivot(self) -> None:
        bars = _vcp_bars()
        result = detect_vcp(**bars)
        assert result.detected.tolist() == [True]
        assert result.contractions[0] == 3
        assert result.pivot[0] == pytest.approx(bars["high"][LAST_HIGH_DAY])  # 94,000 x 1.004
        depths = result.depths[0]
        assert np.isnan(depths[0]) and depths[1] > depths[2] > depths[3]
        assert depths[1] == pytest.approx(1 - 78 * 0.996 / (100 * 1.004))
        assert result.last_low[0] == pytest.approx(bars["low"][206])
        assert 40 < result.score[0] <= 100

    def test_a_flat_series_has_no_pattern(self) -> None:
        flat = np.full(260, 50_000.0)
        result = detect_vcp(flat, flat, flat, np.full(260, 1e6))
        assert not result.detected[0] and np.isnan(result.pivot[0]) and result.score[0] == 0

    def test_volume_that_does_not_dry_up_is_no_pattern(self) -> None:
        assert not detect_vcp(**_vcp_bars(dry_from=None)).detected[0]

    def test_a_first_contraction_deeper_than_35pct_is_no_pattern(self) -> None:
        points = [(0, 40.0), (150, 100.0), (165, 60.0), (185, 96.0), (195, 86.4), (201, 92.0)]
        assert not detect_vcp(**_vcp_bars(points, dry_from=185)).detected[0]

    def test_contractions_that_widen_are_no_pattern(self) -> None:
        points = [
            (0, 40.0),
            (150, 100.0),
            (156, 96.0),
            (166, 100.0),
            (176, 90.0),
            (190, 99.0),
            (205, 84.0),
            (212, 90.0),
        ]
        assert not detect_vcp(**_vcp_bars(points, dry_from=190)).detected[0]

    def test_far_under_the_52_week_high_is_no_pattern(self) -> None:
        points = [(0, 40.0), (40, 140.0), (60, 60.0)] + [(d + 60, p) for d, p in VCP_POINTS[1:]]
        bars = _vcp_bars(points, dry_from=LAST_HIGH_DAY + 60)
        assert bars["close"].size < 252 + 60  # the old peak at 140 is inside the 52 weeks
        assert not detect_vcp(**bars).detected[0]

    def test_each_row_of_a_panel_is_judged_alone(self) -> None:
        bars = _vcp_bars()
        rng = np.random.default_rng(9)
        walk = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.02, bars["close"].size)))
        flat = np.full(bars["close"].size, 30_000.0)
        panel = {
            "high": np.vstack([flat, walk * 1.01, bars["high"]]),
            "low": np.vstack([flat, walk * 0.99, bars["low"]]),
            "close": np.vstack([flat, walk, bars["close"]]),
            "volume": np.vstack([np.ones_like(flat), np.ones_like(flat), bars["volume"]]),
        }
        together = detect_vcp(**panel)
        alone = detect_vcp(**bars)
        assert together.detected[0] == False  # noqa: E712 - numpy bool
        assert together.detected[2] and together.pivot[2] == alone.pivot[0]
        np.testing.assert_array_equal(together.depths[2], alone.depths[0])


class TestSmartMoney:
    def _flows(self, foreign: float, institution: float, volume: float = 1_000_000.0, days: int = 20):
        return np.full(days, foreign), np.full(days, institution), np.full(days, volume)

    def test_no_net_buying_is_50(self) -> None:
        assert smart_money_score(*self._flows(0.0, 0.0)) == 50.0

    def test_a_known_flow_gives_the_documented_score(self) -> None:
        # foreigners buy 3% of each day's volume, institutions sell 1%: flow 2% over 5 and 20 days
        score = smart_money_score(*self._flows(30_000.0, -10_000.0))
        assert score == pytest.approx(50 + 50 * 0.02 / 0.10)  # no agreement bonus: they disagree

    def test_both_buying_gets_the_agreement_bonus_and_both_selling_loses_it(self) -> None:
        buying = smart_money_score(*self._flows(10_000.0, 10_000.0))
        selling = smart_money_score(*self._flows(-10_000.0, -10_000.0))
        assert buying == pytest.approx(50 + 50 * 0.2 + 10) and selling == pytest.approx(50 - 50 * 0.2 - 10)

    def test_the_last_week_weighs_more_and_the_scale_saturates(self) -> None:
        foreign = np.zeros((3, 20))
        foreign[0, -5:] = 50_000.0  # bought in the last week
        foreign[1, :5] = 50_000.0  # bought three weeks ago
        foreign[2, :] = 500_000.0  # half the volume every day: past the saturation
        scores = smart_money_score(foreign, np.zeros((3, 20)), np.full((3, 20), 1_000_000.0))
        assert scores[0] > scores[1] > 50 and scores[2] == 100.0

    def test_missing_history_or_volume_has_no_score(self) -> None:
        assert np.isnan(smart_money_score(*self._flows(1.0, 1.0, days=19)))
        assert np.isnan(smart_money_score(*self._flows(0.0, 0.0, volume=0.0)))


class TestGrading:
    def test_total_is_the_documented_weighted_mean(self) -> None:
        assert total_score([8], [90.0], [95.0], [70.0])[0] == pytest.approx(0.3 * 100 + 0.3 * 90 + 0.2 * 95 + 0.2 * 70)

    def test_missing_smart_money_spreads_its_weight(self) -> None:
        assert total_score([8], [90.0], [95.0], [np.nan])[0] == pytest.approx((30 + 27 + 19) / 0.8)
        assert total_score([4], [0.0], [np.nan], [50.0])[0] == pytest.approx(0.3 * 50 + 0.2 * 50)

    @pytest.mark.parametrize(
        ("total", "passed", "found", "expected"),
        [
            (80.0, True, True, "A"),
            (79.99, True, True, "B"),
            (95.0, True, False, "B"),
            (65.0, True, False, "B"),
            (64.99, True, True, "C"),
            (95.0, False, True, "C"),
            (50.0, False, False, "C"),
            (49.99, True, True, "D"),
        ],
    )
    def test_grade_boundaries(self, total: float, passed: bool, found: bool, expected: str) -> None:
        assert grade([total], [passed], [found]).tolist() == [expected]

    def test_entry_stop_and_target_on_krx_ticks(self) -> None:
        high = np.full((1, 30), 90_000.0)
        entry, stop, target = trade_prices(high, [94_376.0], [89_839.2])
        assert (entry[0], stop[0], target[0]) == (94_400.0, 89_800.0, 108_200.0)

    def test_the_stop_is_never_more_than_8pct_under_the_entry(self) -> None:
        entry, stop, target = trade_prices(np.full((1, 30), 9_000.0), [10_000.0], [8_000.0])
        assert (entry[0], stop[0], target[0]) == (10_000.0, 9_200.0, 12_400.0)

    def test_without_a_pattern_the_entry_is_the_20_day_high(self) -> None:
        high = np.r_[np.full(40, 60_000.0), np.full(20, 51_230.0)][None, :]
        entry, stop, _ = trade_prices(high, [np.nan], [np.nan])
        assert entry[0] == 51_300.0 and stop[0] == 47_150.0  # 0.92 x 51,300 = 47,196: under 50,000 ticks are 50

    def test_krx_tick_table(self) -> None:
        prices = [1_999, 2_000, 4_999, 5_000, 19_999, 20_000, 49_999, 50_000, 199_999, 200_000, 499_999, 500_000]
        expected = [1, 5, 5, 10, 10, 50, 50, 100, 100, 500, 500, 1_000]
        assert krx_tick(prices).tolist() == expected


class TestAnalyse:
    def test_a_chunk_analysed_against_the_universe_equals_the_whole_panel(self) -> None:
        rng = np.random.default_rng(21)
        close = 20_000 * np.exp(np.cumsum(rng.normal(0.001, 0.02, (40, 260)), axis=1))
        bars = Bars.of(close * 1.01, close * 0.99, close, rng.integers(1, 1_000_000, close.shape))
        whole = analyse(bars)
        universe = whole.rs_return
        part = Bars.of(bars.high[10:20], bars.low[10:20], bars.close[10:20], bars.volume[10:20])
        chunk = analyse(part, universe_returns=universe)
        np.testing.assert_array_equal(chunk.rs_rank, whole.rs_rank[10:20])
        np.testing.assert_array_equal(chunk.grades.total, whole.grades.total[10:20])
        np.testing.assert_array_equal(chunk.grades.grade, whole.grades.grade[10:20])
        assert whole.signal_label.shape == (40,) and set(whole.grades.grade) <= set("ABCD")

    def test_the_constructed_vcp_is_graded_with_its_pivot_as_entry(self) -> None:
        bars = _vcp_bars()
        flows = InvestorFlows(np.full((1, 20), 20_000.0), np.full((1, 20), 20_000.0), np.full((1, 20), 1e6))
        result = analyse(Bars.of(bars["high"], bars["low"], bars["close"], bars["volume"]), flows=flows)
        assert result.vcp.detected[0]
        assert result.grades.entry[0] == np.ceil(bars["high"][LAST_HIGH_DAY] / 100) * 100
        assert result.smart_money[0] == pytest.approx(50 + 50 * 0.04 / 0.10 + 10)
        assert result.grades.stop[0] < result.grades.entry[0] < result.grades.target[0]

    def test_bars_of_different_shapes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="one shape"):
            Bars.of(np.ones((2, 5)), np.ones((2, 5)), np.ones((2, 5)), np.ones((2, 4)))
