"""REST outputs that carry a security's whole quotation: inquire-price (all 82 fields of the official
sample), inquire-asking-price-exp-ccn (the book) and search-info (the product's basic data).

Every value is a string, as KIS sends them. Values the simulated market knows are derived from
it (price, the day's and the 250-day / yearly / 52-week extremes with their dates, pivots, the
book); the rest are plausible constants of the kind a real answer carries (margin rate, flags).
"""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from typing import Any

from kstock_local.kis_sim.market import DayBar, Market, Security
from kstock_local.kis_sim.orderbook import Book
from kstock_local.kis_sim.ticksize import round_to_tick, tick_size

FACE_VALUE = 100  # 액면가 (won): kstock's data has none, 100 is Samsung Electronics'


def _s(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _d(day: date) -> str:
    return day.strftime("%Y%m%d")


def _rate(price: int, reference: float) -> str:
    """(price - reference) / reference in percent, KIS's ``*_vrss_prpr_rate`` fields."""
    return f"{(price - reference) * 100 / reference:.2f}" if reference else "0.00"


def _symbol_fraction(symbol: str, salt: str) -> float:
    """A stable 0..1 per symbol, for constants that differ between names (foreign ownership)."""
    return (zlib.crc32(f"{salt}:{symbol}".encode()) % 10_000) / 10_000


def _days(market: Market, sec: Security) -> list[DayBar]:
    """Daily bars before today plus today's, oldest first."""
    return market.bars_with_today(sec.symbol)


def _extremes(bars: list[DayBar], since: date) -> tuple[DayBar, DayBar]:
    """The bars of the highest high and the lowest low since ``since`` (inclusive)."""
    window = [b for b in bars if b.day >= since] or bars[-1:]
    return max(window, key=lambda b: b.high), min(window, key=lambda b: b.low)


def _extreme_fields(prefix: str, high: DayBar, low: DayBar, price: int) -> dict[str, str]:
    names = {
        "d250": ("d250_hgpr", "d250_lwpr", "d250_hgpr_vrss_prpr_rate", "d250_lwpr_vrss_prpr_rate"),
        "dryy": ("stck_dryy_hgpr", "stck_dryy_lwpr", "dryy_hgpr_vrss_prpr_rate", "dryy_lwpr_vrss_prpr_rate"),
        "w52": ("w52_hgpr", "w52_lwpr", "w52_hgpr_vrss_prpr_ctrt", "w52_lwpr_vrss_prpr_ctrt"),
    }[prefix]
    return {
        names[0]: _s(int(high.high)),
        f"{prefix}_hgpr_date": _d(high.day),
        names[2]: _rate(price, high.high),
        names[1]: _s(int(low.low)),
        f"{prefix}_lwpr_date": _d(low.day),
        names[3]: _rate(price, low.low),
    }


def _pivots(previous: DayBar) -> dict[str, str]:
    """Classic floor pivots and DeMark's levels of the previous day, as HTS shows them."""
    high, low, close, opened = previous.high, previous.low, previous.close, previous.open
    pivot = (high + low + close) / 3
    if close < opened:
        x = high + 2 * low + close
    elif close > opened:
        x = 2 * high + low + close
    else:
        x = high + low + 2 * close
    return {
        "pvt_scnd_dmrs_prc": _s(round(pivot + (high - low))),
        "pvt_frst_dmrs_prc": _s(round(2 * pivot - low)),
        "pvt_pont_val": _s(round(pivot)),
        "pvt_frst_dmsp_prc": _s(round(2 * pivot - high)),
        "pvt_scnd_dmsp_prc": _s(round(pivot - (high - low))),
        "dmrs_val": _s(round(x / 2 - low)),
        "dmsp_val": _s(round(x / 2 - high)),
    }


def inquire_price_output(market: Market, sec: Security) -> dict[str, str]:
    """FHKST01010100 ``output``: the 82 fields of the official sample's column list."""
    bars = _days(market, sec)
    today = market.session_day
    out = {**_state_fields(market, sec), **_trading_fields(sec), **_valuation_fields(sec)}
    out.update(_pivots(bars[-2] if len(bars) > 1 else bars[-1]))
    out.update(_extreme_fields("d250", *_extremes(bars[-250:], bars[-250:][0].day), sec.price))
    out.update(_extreme_fields("dryy", *_extremes(bars, today.replace(month=1, day=1)), sec.price))
    out.update(_extreme_fields("w52", *_extremes(bars, today - timedelta(weeks=52)), sec.price))
    return out


def _state_fields(market: Market, sec: Security) -> dict[str, str]:
    underlies = any(elw.underlying is sec for elw in market.elws.values())
    return {
        "iscd_stat_cls_code": "55",  # 신용가능
        "marg_rate": "20.00",
        "rprs_mrkt_kor_name": sec.market,
        "new_hgpr_lwpr_cls_code": "",
        "bstp_kor_isnm": sec.industry,
        "temp_stop_yn": "N",
        "oprc_rang_cont_yn": "N",
        "clpr_rang_cont_yn": "N",
        "crdt_able_yn": "Y",
        "grmn_rate_cls_code": "40",
        "elw_pblc_yn": "Y" if underlies else "N",
        "stck_shrn_iscd": sec.symbol,
        "ssts_yn": "Y",
        "vi_cls_code": "N",
        "ovtm_vi_cls_code": "N",
        "invt_caful_yn": "N",
        "mrkt_warn_cls_code": "00",
        "short_over_yn": "N",
        "sltr_yn": "N",
        "mang_issu_cls_code": "N",
    }


def _trading_fields(sec: Security) -> dict[str, str]:
    return {
        "stck_prpr": _s(sec.price),
        "prdy_vrss": _s(sec.change),
        "prdy_vrss_sign": sec.sign(),
        "prdy_ctrt": _s(round(sec.change_percent, 2)),
        "acml_tr_pbmn": _s(sec.acc_value),
        "acml_vol": _s(sec.acc_volume),
        "prdy_vrss_vol_rate": _s(round(sec.acc_volume * 100 / (sec.prev_volume or 1), 2)),
        "stck_oprc": _s(sec.open),
        "stck_hgpr": _s(sec.high),
        "stck_lwpr": _s(sec.low),
        "stck_mxpr": _s(sec.upper),
        "stck_llam": _s(sec.lower),
        "stck_sdpr": _s(sec.prev_close),
        "wghn_avrg_stck_prc": _s(round(sec.vwap, 2)),
        "rstc_wdth_prc": _s(sec.upper - sec.prev_close),
        "aspr_unit": _s(tick_size(sec.price)),
        "hts_deal_qty_unit_val": "1",
        "vol_tnrt": _s(round(sec.acc_volume * 100 / sec.listed_shares, 2)),
        "frgn_ntby_qty": "0",
        "pgtr_ntby_qty": "0",
        "last_ssts_cntg_qty": _s(sec.lot),
        "whol_loan_rmnd_rate": f"{_symbol_fraction(sec.symbol, 'loan') * 2:.2f}",
        "apprch_rate": "0.00",
    }


def _valuation_fields(sec: Security) -> dict[str, str]:
    eps = max(1, sec.prev_close // 12)
    foreign = 5 + _symbol_fraction(sec.symbol, "foreign") * 45  # 5 .. 50 % held by foreigners
    substitute = round_to_tick(sec.prev_close * 0.7)
    return {
        "hts_frgn_ehrt": f"{foreign:.2f}",
        "frgn_hldn_qty": _s(int(sec.listed_shares * foreign / 100)),
        "cpfn": _s(sec.listed_shares * FACE_VALUE // 100_000_000),  # 억원
        "cpfn_cnnm": "억",
        "stck_fcam": _s(FACE_VALUE),
        "fcam_cnnm": "원",
        "stck_sspr": _s(min(substitute, sec.prev_close)),
        "lstn_stcn": _s(sec.listed_shares),
        "hts_avls": _s(sec.market_cap // 100_000_000),
        "per": _s(round(sec.price / eps, 2)),
        "pbr": _s(round(sec.price / (eps * 10), 2)),
        "stac_month": "12",
        "eps": _s(float(eps)),
        "bps": _s(float(eps * 10)),
    }


def asking_price_output(sec: Security, book: Book, clock: str) -> tuple[dict[str, str], dict[str, str]]:
    """FHKST01010200 ``output1`` (the ten-level book) and ``output2`` (the expected trade, 0 in the
    regular session) from the same book the realtime H0STASP0 frames carry."""
    book_fields: dict[str, str] = {"aspr_acpt_hour": clock}
    for side, levels in (("askp", book.asks), ("bidp", book.bids)):
        for i, (price, qty) in enumerate(levels, 1):
            book_fields[f"{side}{i}"] = _s(price)
            book_fields[f"{side}_rsqn{i}"] = _s(qty)
            book_fields[f"{side}_rsqn_icdc{i}"] = "0"
    book_fields.update(
        {
            "total_askp_rsqn": _s(book.total_ask),
            "total_bidp_rsqn": _s(book.total_bid),
            "total_askp_rsqn_icdc": "0",
            "total_bidp_rsqn_icdc": "0",
            "ovtm_total_askp_icdc": "0",
            "ovtm_total_bidp_icdc": "0",
            "ovtm_total_askp_rsqn": "0",
            "ovtm_total_bidp_rsqn": "0",
            "ntby_aspr_rsqn": _s(book.total_bid - book.total_ask),
            "new_mkop_cls_code": "20",
        }
    )
    expected = {
        "antc_mkop_cls_code": "112",
        "stck_prpr": _s(sec.price),
        "stck_oprc": _s(sec.open),
        "stck_hgpr": _s(sec.high),
        "stck_lwpr": _s(sec.low),
        "stck_sdpr": _s(sec.prev_close),
        "antc_cnpr": "0",
        "antc_cntg_vrss_sign": "3",
        "antc_cntg_vrss": "0",
        "antc_cntg_prdy_ctrt": "0.00",
        "antc_vol": "0",
        "stck_shrn_iscd": sec.symbol,
        "vi_cls_code": "N",
    }
    return book_fields, expected


def search_info_output(sec: Security, product_type: str) -> dict[str, str]:
    """CTPF1604R ``output``: the fields python-kis reads (names, codes, product type) and the
    official sample's (sale dates, classification)."""
    return {
        "pdno": sec.symbol,
        "prdt_type_cd": product_type,
        "std_pdno": standard_code(sec.symbol),
        "shtn_pdno": sec.symbol,
        "prdt_name": sec.name,
        "prdt_name120": sec.name,
        "prdt_abrv_name": sec.name,
        "prdt_eng_name": sec.symbol,
        "prdt_eng_name120": sec.symbol,
        "prdt_eng_abrv_name": sec.symbol,
        "prdt_sale_stat_cd": "",
        "prdt_risk_grad_cd": "",
        "prdt_clsf_cd": "101210" if sec.market == "KOSPI" else "101220",
        "prdt_clsf_name": "주권",
        "sale_strt_dt": "",
        "sale_end_dt": "",
        "wrap_asst_type_cd": "",
        "ivst_prdt_type_cd": "",
        "ivst_prdt_type_cd_name": "",
        "frst_erlm_dt": "",
    }


def standard_code(symbol: str) -> str:
    """The 12-character ISIN of a Korean share: KR7 + code + 00 + a check digit (ISO 6166)."""
    body = f"KR7{symbol}00"
    digits = "".join(str(int(c, 36)) for c in body)
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value // 10 + value % 10
    return body + str((10 - total % 10) % 10)
