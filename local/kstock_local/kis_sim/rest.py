"""The simulator's REST side: KIS paths, headers, envelopes and errors (docs/kis-protocol.md sections 2 and 8)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from aiohttp import web

from kstock.kis import endpoints
from kstock.kis.investor import INVESTOR_TREND
from kstock.market.calendar import KST
from kstock.provenance import SIMULATED, SOURCE_HEADER
from kstock_local.kis_sim.config import SimulatorConfig
from kstock_local.kis_sim.investor import investor_rows
from kstock_local.kis_sim.market import DayBar, IndexState, Market, Security, aggregate, bars_between
from kstock_local.kis_sim.master import add_master_routes
from kstock_local.kis_sim.orderbook import build_book
from kstock_local.kis_sim.quotes import asking_price_output, inquire_price_output, search_info_output
from kstock_local.kis_sim.records import quote_of
from kstock_local.kis_sim.state import SimState
from kstock_local.kis_sim.ticksize import tick_size

log = logging.getLogger("kstock_local.kis_sim.rest")

OK = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}
NO_DATA = ("KIOK0560", "조회할 자료가 없습니다.")
RANK_ROWS = 30
CHART_ROWS = 100
# Quotations kstock's client does not call yet, that real clients do: the book snapshot, and the
# product lookup python-kis's ``kis.stock()`` makes first.
ASKING_PRICE = ("/uapi/domestic-stock/v1/quotations/inquire-asking-price-exp-ccn", "FHKST01010200")
SEARCH_INFO = ("/uapi/domestic-stock/v1/quotations/search-info", "CTPF1604R")
STOCK_PRODUCT_TYPE = "300"  # search-info's PRDT_TYPE_CD of a Korean stock


class KisError(Exception):
    """A KIS error answer: envelope body with rt_cd 1 (REST) or error_code (OAuth)."""

    def __init__(self, status: int, code: str, message: str, *, oauth: bool = False, rt_cd: str = "1") -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.oauth, self.rt_cd = status, code, message, oauth, rt_cd

    def response(self) -> web.Response:
        body = (
            {"error_code": self.code, "error_description": self.message}
            if self.oauth
            else {"rt_cd": self.rt_cd, "msg_cd": self.code, "msg1": self.message}
        )
        return _json(body, status=self.status)


@web.middleware
async def kis_envelope(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer is KIS's envelope: an unknown path or method (aiohttp's plain-text 404/405
    before) and an unexpected failure too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return KisError(exc.status, "EGW00202", f"GW라우팅 중 오류가 발생했습니다. ({request.path})").response()
    except Exception:
        log.exception("KIS simulator: %s %s failed", request.method, request.path)
        return KisError(500, "EGW00002", "서버 에러가 발생했습니다.").response()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer, marked as the simulator's (real KIS never sends the header: kstock.provenance)."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers={**(headers or {}), SOURCE_HEADER: SIMULATED},
    )


def _s(value: Any) -> str:
    """KIS sends every number as a string."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _d(day: date) -> str:
    return day.strftime("%Y%m%d")


def _sign(diff: float) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def _parse_day(text: str, default: date) -> date:
    """A YYYYMMDD query date; year 0000 (python-kis's default start, ``00000101``) means "from the
    beginning", as real KIS takes it."""
    if text and text.isdigit() and len(text) == 8 and text[:4] == "0000":
        return date.min
    try:
        return datetime.strptime(text, "%Y%m%d").date() if text else default
    except ValueError:
        raise KisError(200, "OPSQ0001", "FID_INPUT_DATE 형식이 올바르지 않습니다.") from None


class RestApi:
    def __init__(self, config: SimulatorConfig, market: Market, state: SimState) -> None:
        self.config, self.market, self.state = config, market, state
        self.routes: dict[str, tuple[str, Callable[[dict[str, str]], tuple[dict[str, Any], str]]]] = {
            endpoints.INQUIRE_PRICE.path: (endpoints.INQUIRE_PRICE.tr_id, self.inquire_price),
            endpoints.INQUIRE_DAILY_PRICE.path: (endpoints.INQUIRE_DAILY_PRICE.tr_id, self.daily_price),
            endpoints.DAILY_ITEM_CHART.path: (endpoints.DAILY_ITEM_CHART.tr_id, self.item_chart),
            endpoints.FLUCTUATION_RANK.path: (endpoints.FLUCTUATION_RANK.tr_id, self.fluctuation),
            endpoints.VOLUME_RANK.path: (endpoints.VOLUME_RANK.tr_id, self.volume_rank),
            endpoints.MARKET_CAP_RANK.path: (endpoints.MARKET_CAP_RANK.tr_id, self.market_cap),
            endpoints.INDEX_PRICE.path: (endpoints.INDEX_PRICE.tr_id, self.index_price),
            endpoints.INDEX_DAILY_PRICE.path: (endpoints.INDEX_DAILY_PRICE.tr_id, self.index_daily),
            endpoints.INDEX_CHART.path: (endpoints.INDEX_CHART.tr_id, self.index_chart),
            endpoints.ELW_PRICE.path: (endpoints.ELW_PRICE.tr_id, self.elw_price),
            INVESTOR_TREND.path: (INVESTOR_TREND.tr_id, self.investor),  # issue 15: smart money
            ASKING_PRICE[0]: (ASKING_PRICE[1], self.asking_price),
            SEARCH_INFO[0]: (SEARCH_INFO[1], self.search_info),
        }

    def app(self) -> web.Application:
        app = web.Application(middlewares=[kis_envelope])
        app.router.add_post(endpoints.TOKEN_PATH, self.token)
        app.router.add_post(endpoints.APPROVAL_PATH, self.approval)
        app.router.add_post(endpoints.REVOKE_PATH, self.revoke)
        for path in self.routes:
            app.router.add_get(path, self.quotation)
        add_master_routes(app, self.market)  # issue 15: /common/master/{kospi,kosdaq}_code.mst.zip
        return app

    # -- OAuth ---------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise KisError(400, "EGW00002", "요청 본문이 올바르지 않습니다.", oauth=True) from None
        if not isinstance(body, dict):
            raise KisError(400, "EGW00002", "요청 본문이 올바르지 않습니다.", oauth=True)
        return body

    def _check_credentials(self, app_key: str, secret: str) -> None:
        if not app_key:
            raise KisError(403, "EGW00103", "유효하지 않은 AppKey입니다.", oauth=True)
        if not secret or not self.config.accept_credentials(app_key, secret):
            raise KisError(403, "EGW00105", "유효하지 않은 AppSecret입니다.", oauth=True)

    async def token(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
            if body.get("grant_type") != "client_credentials":
                raise KisError(403, "EGW00205", "grant_type 이 유효하지 않습니다.", oauth=True)
            app_key, secret = str(body.get("appkey") or ""), str(body.get("appsecret") or "")
            self._check_credentials(app_key, secret)
            now = time.time()
            last = self.state.last_issue.get(app_key)
            if last is not None and now - last < self.config.token_issue_interval:
                self.state.stats.token_refusals += 1
                raise KisError(403, "EGW00133", "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)", oauth=True)
            self.state.last_issue[app_key] = now
            current = self.state.current.get(app_key)
            if (
                current is None
                or current.expires_at <= now
                or current.app_secret != secret
                or now - current.issued_at > self.config.token_reuse_window
            ):
                current = self.state.issue_token(app_key, secret, self.config.token_lifetime)
        except KisError as exc:
            return exc.response()
        expires = datetime.fromtimestamp(current.expires_at, KST).strftime("%Y-%m-%d %H:%M:%S")
        return _json(
            {
                "access_token": current.token,
                "access_token_token_expired": expires,
                "token_type": "Bearer",
                "expires_in": max(0, int(current.expires_at - now)),
            }
        )

    async def approval(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
            app_key = str(body.get("appkey") or "")
            if "secretkey" not in body:  # the real field name; `appsecret` here is a classic client bug
                raise KisError(403, "EGW00105", "secretkey 가 없습니다 (appsecret 이 아니라 secretkey).", oauth=True)
            self._check_credentials(app_key, str(body.get("secretkey") or ""))
        except KisError as exc:
            return exc.response()
        return _json({"approval_key": self.state.issue_approval(app_key)})

    async def revoke(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
        except KisError as exc:
            return exc.response()
        token = self.state.tokens.pop(str(body.get("token") or ""), None)
        if token is not None and self.state.current.get(token.app_key) is token:
            del self.state.current[token.app_key]
        return _json({"code": 200, "message": "접근토큰 폐기에 성공하였습니다"})

    # -- quotations ----------------------------------------------------------------------------

    async def quotation(self, request: web.Request) -> web.Response:
        tr_id, handler = self.routes[request.path]
        self.state.stats.rest_requests += 1
        try:
            self._authorise(request, tr_id)
            params = {k.upper(): v for k, v in request.query.items()}  # KIS accepts either case
            output, tr_cont = handler(params)
        except KisError as exc:
            return exc.response()
        gt_uid = f"SIM{time.time_ns():020d}"[:32]
        return _json({**OK, **output}, headers={"tr_id": tr_id, "tr_cont": tr_cont, "gt_uid": gt_uid})

    def _authorise(self, request: web.Request, tr_id: str) -> None:
        auth = request.headers.get("authorization", "")
        scheme, _, token_text = auth.partition(" ")
        if scheme.lower() != "bearer" or not token_text:
            raise KisError(500, "EGW00205", "credentials_type이 유효하지 않습니다.(Bearer)")
        token = self.state.tokens.get(token_text.strip())
        if token is None:
            raise KisError(500, "EGW00121", "유효하지 않은 token 입니다.")
        if token.expires_at <= time.time():
            self.state.stats.expired_token_answers += 1
            raise KisError(500, "EGW00123", "기간이 만료된 token 입니다.")
        if request.headers.get("appkey", "") != token.app_key:
            raise KisError(500, "EGW00103", "유효하지 않은 AppKey입니다.")
        if request.headers.get("appsecret", "") != token.app_secret:
            raise KisError(500, "EGW00105", "유효하지 않은 AppSecret입니다.")
        if request.headers.get("tr_id", "") != tr_id:
            raise KisError(500, "EGW00204", f"tr_id 가 올바르지 않습니다 (이 API 는 {tr_id}).")
        if request.headers.get("custtype", "P") not in ("P", "B"):
            raise KisError(500, "EGW00208", "custtype 이 유효하지 않습니다.")
        if self.state.over_rate(token.app_key, self.config.rest_rate_per_second):
            self.state.stats.rate_limited += 1
            raise KisError(500, "EGW00201", "초당 거래건수를 초과하였습니다.")

    def _security(self, params: dict[str, str], market: str = "J") -> Security:
        code = params.get("FID_INPUT_ISCD", "").strip().upper()
        sec = self.market.elws.get(code) if market == "W" else self.market.stocks.get(code)
        if sec is None:
            raise KisError(200, *NO_DATA)
        return sec

    def _index(self, params: dict[str, str]) -> IndexState:
        index = self.market.indices.get(params.get("FID_INPUT_ISCD", "").strip())
        if index is None:
            raise KisError(200, *NO_DATA)
        self.market.update_indices()
        return index

    @staticmethod
    def _price_fields(sec: Security) -> dict[str, str]:
        return {
            "stck_prpr": _s(sec.price),
            "prdy_vrss": _s(sec.change),
            "prdy_vrss_sign": sec.sign(),
            "prdy_ctrt": _s(round(sec.change_percent, 2)),
            "acml_vol": _s(sec.acc_volume),
        }

    def inquire_price(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        return {"output": inquire_price_output(self.market, self._security(params))}, ""

    def asking_price(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        """FHKST01010200: the book snapshot, the same book the H0STASP0 frames carry."""
        sec = self._security(params)
        clock = self.market.now().strftime("%H%M%S")
        book, expected = asking_price_output(sec, build_book(quote_of(sec)), clock)
        return {"output1": book, "output2": expected}, ""

    def search_info(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        """CTPF1604R: a stock's product data under product type 300. Other types (overseas) have
        no data, answered with rt_cd 7 as KIS does (python-kis tries the next type on it)."""
        symbol = params.get("PDNO", "").strip().upper()
        product_type = params.get("PRDT_TYPE_CD", "").strip()
        sec = self.market.stocks.get(symbol) if product_type == STOCK_PRODUCT_TYPE else None
        if sec is None:
            raise KisError(200, *NO_DATA, rt_cd="7")
        return {"output": search_info_output(sec, product_type)}, ""

    def _daily_rows(self, symbol: str, period: str) -> list[DayBar]:
        return aggregate(self.market.bars_with_today(symbol), period)

    def daily_price(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        sec = self._security(params)
        bars = self._daily_rows(sec.symbol, params.get("FID_PERIOD_DIV_CODE", "D").upper() or "D")[-31:]
        rows = []
        for prev, bar in zip(bars, bars[1:], strict=False):
            diff = int(bar.close) - int(prev.close)
            rows.append(
                {
                    "stck_bsop_date": _d(bar.day),
                    "stck_oprc": _s(int(bar.open)),
                    "stck_hgpr": _s(int(bar.high)),
                    "stck_lwpr": _s(int(bar.low)),
                    "stck_clpr": _s(int(bar.close)),
                    "acml_vol": _s(bar.volume),
                    "prdy_vrss_vol_rate": _s(round(bar.volume * 100 / max(1, prev.volume), 2)),
                    "prdy_vrss": _s(diff),
                    "prdy_vrss_sign": _sign(diff),
                    "prdy_ctrt": _s(round(diff * 100 / prev.close, 2)),
                    "hts_frgn_ehrt": "25.31",
                    "frgn_ntby_qty": "0",
                    "flng_cls_code": "00",
                    "acml_prtt_rate": "0.00",
                }
            )
        return {"output": rows[::-1]}, ""

    def investor(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        sec = self._security(params)
        bars = self.market.bars_with_today(sec.symbol)
        return {"output": investor_rows(sec, bars, session_open=bool(sec.acc_volume))}, ""

    def item_chart(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        sec = self._security(params)
        today = self.market.session_day
        start = _parse_day(params.get("FID_INPUT_DATE_1", ""), today.replace(year=today.year - 1))
        end = _parse_day(params.get("FID_INPUT_DATE_2", ""), today)
        period = params.get("FID_PERIOD_DIV_CODE", "D").upper() or "D"
        bars = aggregate(self.market.bars_with_today(sec.symbol), period)
        window = bars_between(bars, start, end)[-CHART_ROWS:]
        prev_close = {b.day: p.close for p, b in zip(bars, bars[1:], strict=False)}
        rows = []
        for bar in reversed(window):
            diff = int(bar.close) - int(prev_close.get(bar.day, bar.open))
            rows.append(
                {
                    "stck_bsop_date": _d(bar.day),
                    "stck_clpr": _s(int(bar.close)),
                    "stck_oprc": _s(int(bar.open)),
                    "stck_hgpr": _s(int(bar.high)),
                    "stck_lwpr": _s(int(bar.low)),
                    "acml_vol": _s(bar.volume),
                    "acml_tr_pbmn": _s(bar.value),
                    "flng_cls_code": "00",
                    "prtt_rate": "0.00",
                    "mod_yn": "N",
                    "prdy_vrss_sign": _sign(diff),
                    "prdy_vrss": _s(diff),
                    "revl_issu_reas": "",
                }
            )
        summary = {
            **self._price_fields(sec),
            "stck_prdy_clpr": _s(sec.prev_close),
            "acml_tr_pbmn": _s(sec.acc_value),
            "hts_kor_isnm": sec.name,
            "stck_shrn_iscd": sec.symbol,
            "prdy_vol": _s(sec.prev_volume),
            "stck_mxpr": _s(sec.upper),
            "stck_llam": _s(sec.lower),
            "stck_oprc": _s(sec.open),
            "stck_hgpr": _s(sec.high),
            "stck_lwpr": _s(sec.low),
            "askp": _s(sec.price + tick_size(sec.price)),
            "bidp": _s(sec.price),
            "lstn_stcn": _s(sec.listed_shares),
            "hts_avls": _s(sec.market_cap // 100_000_000),
            "stck_fcam": "100",
            "per": "12.00",
            "eps": "0",
            "pbr": "1.20",
        }
        return {"output1": summary, "output2": rows}, "D"

    def _ranked(self, params: dict[str, str]) -> list[Security]:
        market = params.get("FID_INPUT_ISCD", "0000").strip() or "0000"
        wanted = {"0001": "KOSPI", "1001": "KOSDAQ", "2001": "KOSPI"}.get(market)
        return [s for s in self.market.stocks.values() if wanted is None or s.market == wanted]

    def fluctuation(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        falling = params.get("FID_RANK_SORT_CLS_CODE", "0").lstrip("0") == "1"
        ranked = sorted(self._ranked(params), key=lambda s: s.change_percent, reverse=not falling)[:RANK_ROWS]
        rows = []
        for rank, s in enumerate(ranked, 1):
            rows.append(
                {
                    "stck_shrn_iscd": s.symbol,
                    "data_rank": _s(rank),
                    "hts_kor_isnm": s.name,
                    **self._price_fields(s),
                    "stck_hgpr": _s(s.high),
                    "hgpr_hour": s.high_time,
                    "acml_hgpr_date": _d(self.market.session_day),
                    "stck_lwpr": _s(s.low),
                    "lwpr_hour": s.low_time,
                    "acml_lwpr_date": _d(self.market.session_day),
                    "lwpr_vrss_prpr_rate": _s(round((s.price - s.low) * 100 / max(1, s.low), 2)),
                    "dsgt_date_clpr_vrss_prpr_rate": _s(round(s.change_percent, 2)),
                    "cnnt_ascn_dynu": "1",
                    "hgpr_vrss_prpr_rate": _s(round((s.price - s.high) * 100 / max(1, s.high), 2)),
                    "cnnt_down_dynu": "0",
                    "oprc_vrss_prpr_sign": _sign(s.price - s.open),
                    "oprc_vrss_prpr": _s(s.price - s.open),
                    "oprc_vrss_prpr_rate": _s(round((s.price - s.open) * 100 / max(1, s.open), 2)),
                    "prd_rsfl": _s(s.change),
                    "prd_rsfl_rate": _s(round(s.change_percent, 2)),
                }
            )
        return {"output": rows}, ""

    def volume_rank(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        by_value = params.get("FID_BLNG_CLS_CODE", "0") == "3"
        ranked = sorted(self._ranked(params), key=lambda s: s.acc_value if by_value else s.acc_volume, reverse=True)[
            :RANK_ROWS
        ]
        rows = [
            {
                "hts_kor_isnm": s.name,
                "mksc_shrn_iscd": s.symbol,
                "data_rank": _s(rank),
                **self._price_fields(s),
                "prdy_vol": _s(s.prev_volume),
                "lstn_stcn": _s(s.listed_shares),
                "avrg_vol": _s(s.base_volume),
                "n_befr_clpr_vrss_prpr_rate": _s(round(s.change_percent, 2)),
                "vol_inrt": _s(round(s.acc_volume * 100 / max(1, s.prev_volume), 2)),
                "vol_tnrt": _s(round(s.acc_volume * 100 / s.listed_shares, 2)),
                "nday_vol_tnrt": "0.00",
                "avrg_tr_pbmn": _s(s.base_volume * s.prev_close),
                "tr_pbmn_tnrt": "0.00",
                "nday_tr_pbmn_tnrt": "0.00",
                "acml_tr_pbmn": _s(s.acc_value),
            }
            for rank, s in enumerate(ranked, 1)
        ]
        return {"output": rows}, ""

    def market_cap(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        universe = self._ranked(params)
        total = sum(s.market_cap for s in universe) or 1
        ranked = sorted(universe, key=lambda s: s.market_cap, reverse=True)[:RANK_ROWS]
        rows = [
            {
                "mksc_shrn_iscd": s.symbol,
                "data_rank": _s(rank),
                "hts_kor_isnm": s.name,
                **self._price_fields(s),
                "lstn_stcn": _s(s.listed_shares),
                "stck_avls": _s(s.market_cap // 100_000_000),
                "mrkt_whol_avls_rlim": _s(round(s.market_cap * 100 / total, 2)),
            }
            for rank, s in enumerate(ranked, 1)
        ]
        return {"output": rows}, ""

    def _index_fields(self, index: IndexState) -> dict[str, str]:
        upper, up, flat, down, lower = index.counts()
        return {
            "bstp_nmix_prpr": _s(index.value),
            "bstp_nmix_prdy_vrss": _s(index.change),
            "prdy_vrss_sign": _sign(index.change),
            "bstp_nmix_prdy_ctrt": _s(round(index.change_percent, 2)),
            "acml_vol": _s(index.acc_volume),
            "prdy_vol": _s(index.prev_volume),
            "acml_tr_pbmn": _s(index.acc_value // 1_000_000),
            "prdy_tr_pbmn": "0",
            "bstp_nmix_oprc": _s(index.open),
            "bstp_nmix_hgpr": _s(index.high),
            "bstp_nmix_lwpr": _s(index.low),
            "ascn_issu_cnt": _s(up),
            "uplm_issu_cnt": _s(upper),
            "stnr_issu_cnt": _s(flat),
            "down_issu_cnt": _s(down),
            "lslm_issu_cnt": _s(lower),
        }

    def index_price(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        return {"output": self._index_fields(self._index(params))}, ""

    @staticmethod
    def _index_rows(bars: list[DayBar]) -> list[dict[str, str]]:
        return [
            {
                "stck_bsop_date": _d(b.day),
                "bstp_nmix_prpr": _s(float(b.close)),
                "bstp_nmix_oprc": _s(float(b.open)),
                "bstp_nmix_hgpr": _s(float(b.high)),
                "bstp_nmix_lwpr": _s(float(b.low)),
                "acml_vol": _s(b.volume),
                "acml_tr_pbmn": _s(b.value // 1_000_000),
                "mod_yn": "N",
            }
            for b in reversed(bars)
        ]

    def index_daily(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        index = self._index(params)
        end = _parse_day(params.get("FID_INPUT_DATE_1", ""), self.market.session_day)
        period = params.get("FID_PERIOD_DIV_CODE", "D").upper() or "D"
        bars = [b for b in aggregate(self.market.bars_with_today(index.code), period) if b.day <= end][-CHART_ROWS:]
        return {"output1": self._index_fields(index), "output2": self._index_rows(bars)}, ""

    def index_chart(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        index = self._index(params)
        today = self.market.session_day
        start = _parse_day(params.get("FID_INPUT_DATE_1", ""), today.replace(year=today.year - 1))
        end = _parse_day(params.get("FID_INPUT_DATE_2", ""), today)
        period = params.get("FID_PERIOD_DIV_CODE", "D").upper() or "D"
        bars = bars_between(aggregate(self.market.bars_with_today(index.code), period), start, end)[-CHART_ROWS:]
        return {"output1": self._index_fields(index), "output2": self._index_rows(bars)}, "D"

    def elw_price(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        elw = self._security(params, market="W")
        under = elw.underlying
        assert under is not None
        out = {
            "elw_shrn_iscd": elw.symbol,
            "hts_kor_isnm": elw.name,
            "elw_prpr": _s(elw.price),
            "prdy_vrss": _s(elw.change),
            "prdy_vrss_sign": elw.sign(),
            "prdy_ctrt": _s(round(elw.change_percent, 2)),
            "acml_vol": _s(elw.acc_volume),
            "prdy_vrss_vol_rate": "0.00",
            "unas_shrn_iscd": under.symbol,
            "unas_isnm": under.name,
            "unas_prpr": _s(under.price),
            "unas_prdy_vrss": _s(under.change),
            "unas_prdy_vrss_sign": under.sign(),
            "unas_prdy_ctrt": _s(round(under.change_percent, 2)),
            "bidp": _s(elw.price),
            "askp": _s(elw.price + 5),
            "acml_tr_pbmn": _s(elw.acc_value),
            "vol_tnrt": "0.00",
            "elw_oprc": _s(elw.open),
            "elw_hgpr": _s(elw.high),
            "elw_lwpr": _s(elw.low),
            "stck_prdy_clpr": _s(elw.prev_close),
            "hts_thpr": _s(float(elw.price)),
            "dprt": "0.00",
            "atm_cls_name": "ATM",
            "hts_ints_vltl": "25.00",
            "acpr": _s(elw.strike),
            "pvt_scnd_dmrs_prc": "0",
            "pvt_frst_dmrs_prc": "0",
            "pvt_pont_val": "0",
            "pvt_frst_dmsp_prc": "0",
            "pvt_scnd_dmsp_prc": "0",
            "dmsp_val": "0",
            "dmrs_val": "0",
            "elw_sdpr": _s(elw.prev_close),
            "apprch_rate": "0.00",
            "tick_conv_prc": "0",
            "invt_epmd_cntt": "",
        }
        return {"output": out}, ""
