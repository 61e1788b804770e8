"""Typed KIS REST quotations, rate limited and retried.

Every call takes a token from the app key's process-wide bucket, sends the KIS headers, maps the
answer to an exception of :mod:`kstock.kis.errors` or to a typed result, and is retried with
exponential backoff and jitter on EGW00201 (over the per-second budget) and on an unavailable
upstream. An expired token (EGW00123) is dropped and re-issued once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential
from tenacity.stop import stop_base

from kstock import provenance
from kstock.config import Settings, get_settings
from kstock.kis import deadline, endpoints
from kstock.kis.auth import KisAuth, KisCredentials, TokenStore
from kstock.kis.endpoints import Endpoint
from kstock.kis.errors import (
    KisAuthError,
    KisError,
    KisNotFound,
    KisProtocolError,
    KisRateLimited,
    KisTokenExpired,
    KisUnavailable,
)
from kstock.kis.models import (
    FALLING_SIGNS,
    ChartSummary,
    DailyBar,
    ElwQuote,
    IndexBar,
    IndexQuote,
    OrderBook,
    PeriodChart,
    RankEntry,
    StockQuote,
)
from kstock.kis.ratelimit import TokenBucket, bucket_for
from kstock.market.calendar import KST
from kstock.market.kistime import InvalidKisTime, kis_to_utc, parse_kis_date

log = logging.getLogger("kstock.kis.rest")

CHART_PAGE_ROWS = 100  # FHKST03010100 / FHKUP03500100 answer at most 100 rows per call

_AUTH_CODES = {"EGW00103", "EGW00105", "EGW00205", "EGW00206", "EGW00207", "EGW00208"}
# The token itself is unusable (expired 00123, invalid 00121, unknown 00122: e.g. a token cached in Redis
# by an earlier KIS session or simulator run): drop it and re-issue once.
_STALE_TOKEN_CODES = {"EGW00121", "EGW00122", "EGW00123"}
_UNAVAILABLE_CODES = {"EGW00001", "EGW00002", "EGW00202", "EGW00203"}
# Guess (docs/kis-protocol.md section 13): KIS answers "no data" with these codes / messages.
_NOT_FOUND_CODES = {"KIOK0560", "OPSQ0002", "MCA01009"}


def _error_for(status: int, body: dict[str, Any]) -> KisError:
    code = str(body.get("msg_cd") or body.get("error_code") or "") or None
    message = str(body.get("msg1") or body.get("error_description") or f"HTTP {status}")
    if code == "EGW00201":
        return KisRateLimited(message, code=code, status=status)
    if code in _STALE_TOKEN_CODES:
        return KisTokenExpired(message, code=code, status=status)
    if code in _AUTH_CODES or status in (401, 403):
        return KisAuthError(message, code=code, status=status)
    if code in _UNAVAILABLE_CODES or status in (502, 503, 504):
        return KisUnavailable(message, code=code, status=status)
    if code in _NOT_FOUND_CODES or "없습니다" in message or status == 404:
        return KisNotFound(message, code=code, status=status)
    return KisError(message, code=code, status=status)


# -- value parsing (KIS sends strings) -----------------------------------------------------------


def _int(value: Any) -> int:
    text = str(value).strip().replace(",", "")
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        return int(Decimal(text))


def _opt_int(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return _int(text) if text else None


def _dec(value: Any) -> Decimal:
    text = str(value).strip().replace(",", "")
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation as exc:
        raise KisProtocolError(f"not a number: {text[:20]!r}") from exc


def _opt_dec(value: Any) -> Decimal | None:
    text = str(value if value is not None else "").strip()
    return _dec(text) if text else None


_Number = TypeVar("_Number", int, Decimal)


def _signed(value: _Number, sign: str) -> _Number:
    """KIS change values are signed, but normalise in case a feed sends magnitudes."""
    return -value if sign in FALLING_SIGNS and value > 0 else value


def _day(value: Any) -> date:
    try:
        return parse_kis_date(str(value))
    except ValueError as exc:
        raise KisProtocolError(str(exc)) from exc


def _book_side(o: dict[str, Any], side: str) -> tuple[tuple[int, int], ...]:
    """``askp1..10`` / ``bidp1..10`` with their ``*_rsqn`` quantities, best first, priced levels only."""
    levels = ((_int(o.get(f"{side}{i}", 0)), _int(o.get(f"{side}_rsqn{i}", 0))) for i in range(1, 11))
    return tuple((price, qty) for price, qty in levels if price > 0)


def _accepted_at(hhmmss: str) -> datetime:
    """``aspr_acpt_hour`` (KST, today) in UTC; now when KIS leaves it blank or malformed."""
    try:
        return kis_to_utc(datetime.now(KST).date(), hhmmss)
    except InvalidKisTime:
        return datetime.now(UTC)


def _rows(body: dict[str, Any], key: str = "output") -> list[dict[str, Any]]:
    rows = body.get(key) or []
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list):
        raise KisProtocolError(f"{key} is not a list")
    # KIS pads short answers with blank rows; a row without a date/code is not data.
    return [r for r in rows if isinstance(r, dict) and any(str(v).strip() for v in r.values())]


def _dated_rows(body: dict[str, Any], key: str = "output2") -> list[dict[str, Any]]:
    """Rows that carry a business date; KIS pads short answers with blank rows."""
    return [r for r in _rows(body, key) if str(r.get("stck_bsop_date", "")).strip()]


def _obj(body: dict[str, Any], key: str = "output") -> dict[str, Any]:
    value = body.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict) or not value:
        raise KisNotFound(f"empty {key}")
    return value


class _BudgetSpent(stop_base):
    """Stops the retries when the request's KIS budget (:mod:`kstock.kis.deadline`) is spent."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        return deadline.expired()


class KisRestClient:
    """The KIS REST quotations kstock uses. Thread-safe; share one per process."""

    def __init__(
        self,
        base_url: str,
        credentials: KisCredentials,
        *,
        rate_per_second: float = 20.0,
        burst: float = 1.0,
        custtype: str = "P",
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff: float = 0.1,
        backoff_max: float = 2.0,
        auth: KisAuth | None = None,
        store: TokenStore | None = None,
        token_min_interval: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.custtype = custtype
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff, self.backoff_max = backoff, backoff_max
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_maxsize=32))
            session.mount("https://", HTTPAdapter(pool_maxsize=32))
        self.session = session
        self.auth = auth or KisAuth(
            credentials,
            self.base_url,
            session=session,
            store=store,
            min_issue_interval=token_min_interval,
            timeout=timeout,
        )
        self.bucket: TokenBucket = bucket_for(credentials.app_id, rate_per_second, burst)
        self.rate_limited_retries = 0  # EGW00201 answers absorbed by retries (health, tests)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> KisRestClient:
        settings = settings or get_settings()
        rate = settings.kis_rest_rate_per_second or (20.0 if settings.kis_env == "real" else 2.0)
        return cls(
            endpoints.rest_base_url(settings),
            KisCredentials.from_settings(settings),
            rate_per_second=rate,
            custtype=settings.kis_custtype,
            timeout=settings.kis_rest_timeout,
            max_attempts=settings.kis_rest_max_attempts,
            token_min_interval=settings.kis_token_min_interval,
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> KisRestClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------------------

    def get(self, endpoint: Endpoint, params: dict[str, str], *, tr_cont: str = "") -> tuple[dict[str, Any], str]:
        """One quotation call: the JSON body (rt_cd "0") and the response ``tr_cont`` header."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, KisRateLimited):
                self.rate_limited_retries += 1
            log.info("KIS %s retry %d after %s", endpoint.tr_id, state.attempt_number, type(exc).__name__)

        retrying = Retrying(
            retry=retry_if_exception_type((KisRateLimited, KisUnavailable)),
            wait=wait_random_exponential(multiplier=self.backoff, max=self.backoff_max),
            # a request's KIS budget (kstock.kis.deadline) ends the retries too
            stop=stop_after_attempt(self.max_attempts) | _BudgetSpent(),
            reraise=True,
            before_sleep=before_sleep,
        )
        return retrying(self._get_once, endpoint, params, tr_cont)

    def _get_once(self, endpoint: Endpoint, params: dict[str, str], tr_cont: str) -> tuple[dict[str, Any], str]:
        reissued = False
        while True:
            self.bucket.acquire()
            token = self.auth.access_token()
            try:
                return self._send(endpoint, params, tr_cont, token)
            except KisTokenExpired:
                if reissued:
                    raise
                log.warning("KIS token expired or unknown; re-issuing once")
                self.auth.invalidate(token)
                reissued = True

    def _send(self, endpoint: Endpoint, params: dict[str, str], tr_cont: str, token: str) -> tuple[dict[str, Any], str]:
        headers = {
            "content-type": "application/json; charset=utf-8",
            "authorization": f"Bearer {token}",
            "appkey": self.credentials.app_key,
            "appsecret": self.credentials.app_secret,
            "tr_id": endpoint.tr_id,
            "tr_cont": tr_cont,
            "custtype": self.custtype,
        }
        try:
            response = self.session.get(
                self.base_url + endpoint.path,
                params=params,
                headers=headers,
                timeout=deadline.timeout(self.timeout, f"KIS {endpoint.tr_id}"),
            )
        except requests.RequestException as exc:
            raise KisUnavailable(f"KIS {endpoint.tr_id} unreachable: {type(exc).__name__}") from exc
        provenance.note_kis_answer(response.headers)
        try:
            body = response.json()
        except ValueError:
            if response.status_code >= 500:
                raise KisUnavailable(
                    f"KIS {endpoint.tr_id}: HTTP {response.status_code}", status=response.status_code
                ) from None
            raise KisProtocolError(
                f"KIS {endpoint.tr_id} answered non-JSON (HTTP {response.status_code})", status=response.status_code
            ) from None
        if not isinstance(body, dict):
            raise KisProtocolError(f"KIS {endpoint.tr_id} answered unexpected JSON")
        if response.status_code != 200 or str(body.get("rt_cd")) != "0":
            raise _error_for(response.status_code, body)
        return body, response.headers.get("tr_cont", "")

    # -- stocks --------------------------------------------------------------------------------

    def inquire_price(self, symbol: str, market: str = "J") -> StockQuote:
        """Current price of a stock / ETF / ETN (FHKST01010100)."""
        body, _ = self.get(endpoints.INQUIRE_PRICE, {"FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": symbol})
        o = _obj(body)
        if _int(o.get("stck_prpr", 0)) <= 0:
            raise KisNotFound(f"no price for {symbol}")  # KIS answers unknown codes with zeros
        sign = str(o.get("prdy_vrss_sign", "3"))
        return StockQuote(
            symbol=str(o.get("stck_shrn_iscd") or symbol),
            price=_int(o["stck_prpr"]),
            change=_signed(_int(o.get("prdy_vrss", 0)), sign),
            change_sign=sign,
            change_percent=_signed(_dec(o.get("prdy_ctrt", 0)), sign),
            open=_int(o.get("stck_oprc", 0)),
            high=_int(o.get("stck_hgpr", 0)),
            low=_int(o.get("stck_lwpr", 0)),
            prev_close=_int(o.get("stck_sdpr", 0)),
            upper_limit=_int(o.get("stck_mxpr", 0)),
            lower_limit=_int(o.get("stck_llam", 0)),
            volume=_int(o.get("acml_vol", 0)),
            traded_value=_int(o.get("acml_tr_pbmn", 0)),
            vwap=_opt_dec(o.get("wghn_avrg_stck_prc")),
            tick_size=_opt_int(o.get("aspr_unit")),
            market_cap_100m=_opt_int(o.get("hts_avls")),
            listed_shares=_opt_int(o.get("lstn_stcn")),
            per=_opt_dec(o.get("per")),
            pbr=_opt_dec(o.get("pbr")),
            eps=_opt_dec(o.get("eps")),
            bps=_opt_dec(o.get("bps")),
            w52_high=_opt_int(o.get("w52_hgpr")),
            w52_low=_opt_int(o.get("w52_lwpr")),
            industry=(str(o.get("bstp_kor_isnm") or "").strip() or None),
            halted=str(o.get("temp_stop_yn", "N")).upper() == "Y",
        )

    def asking_price(self, symbol: str, market: str = "J") -> OrderBook:
        """The ten-level order book of a stock (FHKST01010200, ``output1``): the REST snapshot of what
        H0STASP0 streams. Levels without a price (beyond the day's limit) are left out, as in the stream."""
        body, _ = self.get(endpoints.ASKING_PRICE, {"FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": symbol})
        o = _obj(body, "output1")
        asks, bids = _book_side(o, "askp"), _book_side(o, "bidp")
        if not asks and not bids:
            raise KisNotFound(f"no order book for {symbol}")  # KIS answers unknown codes with zeros
        return OrderBook(
            symbol=symbol,
            asks=asks,
            bids=bids,
            total_ask_qty=_int(o.get("total_askp_rsqn", 0)),
            total_bid_qty=_int(o.get("total_bidp_rsqn", 0)),
            acc_volume=0,  # the snapshot carries no day volume (output2 has the expected-trade block only)
            hour_class="0",
            timestamp=_accepted_at(str(o.get("aspr_acpt_hour", ""))),
        )

    def daily_prices(self, symbol: str, period: str = "D", adjusted: bool = True, market: str = "J") -> list[DailyBar]:
        """The last 30 days / weeks / months (FHKST01010400), oldest first."""
        body, _ = self.get(
            endpoints.INQUIRE_DAILY_PRICE,
            {
                "FID_COND_MRKT_DIV_CODE": market,
                "FID_INPUT_ISCD": symbol,
                "FID_PERIOD_DIV_CODE": period,
                "FID_ORG_ADJ_PRC": "1" if adjusted else "0",  # this endpoint: 1 adjusted, 0 raw
            },
        )
        bars = []
        for r in _dated_rows(body, "output"):
            sign = str(r.get("prdy_vrss_sign", "3"))
            bars.append(
                DailyBar(
                    day=_day(r["stck_bsop_date"]),
                    open=_int(r.get("stck_oprc", 0)),
                    high=_int(r.get("stck_hgpr", 0)),
                    low=_int(r.get("stck_lwpr", 0)),
                    close=_int(r.get("stck_clpr", 0)),
                    volume=_int(r.get("acml_vol", 0)),
                    change=_signed(_int(r.get("prdy_vrss", 0)), sign),
                    change_sign=sign,
                    change_percent=_signed(_dec(r.get("prdy_ctrt", 0)), sign),
                )
            )
        return sorted(bars, key=lambda b: b.day)

    def _chart_pages(
        self, endpoint: Endpoint, params: dict[str, str], start: date, end: date, max_pages: int
    ) -> Iterator[dict[str, Any]]:
        """Response bodies of a date-windowed chart, newest window first, each window ending the day
        before the oldest row of the previous one (KIS answers at most 100 rows a call)."""
        window_end = end
        for _ in range(max_pages):
            body, _ = self.get(
                endpoint,
                {
                    **params,
                    "FID_INPUT_DATE_1": start.strftime("%Y%m%d"),
                    "FID_INPUT_DATE_2": window_end.strftime("%Y%m%d"),
                },
            )
            yield body
            rows = _dated_rows(body)
            if len(rows) < CHART_PAGE_ROWS:
                return
            oldest = min(_day(r["stck_bsop_date"]) for r in rows)
            if oldest <= start or oldest > window_end:
                return
            window_end = oldest - timedelta(days=1)

    def period_chart(
        self,
        symbol: str,
        start: date,
        end: date,
        period: str = "D",
        adjusted: bool = True,
        market: str = "J",
        max_pages: int = 100,
    ) -> PeriodChart:
        """Bars of ``[start, end]`` (FHKST03010100), paging backwards over 100-row date windows."""
        summary: ChartSummary | None = None
        by_day: dict[date, DailyBar] = {}
        params = {
            "FID_COND_MRKT_DIV_CODE": market,
            "FID_INPUT_ISCD": symbol,
            "FID_PERIOD_DIV_CODE": period,
            "FID_ORG_ADJ_PRC": "0" if adjusted else "1",
        }  # on this endpoint 0 = adjusted
        for body in self._chart_pages(endpoints.DAILY_ITEM_CHART, params, start, end, max_pages):
            if summary is None:
                summary = self._chart_summary(symbol, body.get("output1"))
            for bar in map(self._chart_bar, _dated_rows(body)):
                if start <= bar.day <= end:
                    by_day[bar.day] = bar
        return PeriodChart(summary, [by_day[d] for d in sorted(by_day)])

    @staticmethod
    def _chart_summary(symbol: str, o: Any) -> ChartSummary | None:
        if not isinstance(o, dict) or not str(o.get("stck_prpr", "")).strip():
            return None
        sign = str(o.get("prdy_vrss_sign", "3"))
        return ChartSummary(
            symbol=str(o.get("stck_shrn_iscd") or symbol),
            name=str(o.get("hts_kor_isnm", "")).strip(),
            price=_int(o["stck_prpr"]),
            prev_close=_int(o.get("stck_prdy_clpr", 0)),
            change=_signed(_int(o.get("prdy_vrss", 0)), sign),
            change_percent=_signed(_dec(o.get("prdy_ctrt", 0)), sign),
            volume=_int(o.get("acml_vol", 0)),
            listed_shares=_opt_int(o.get("lstn_stcn")),
            market_cap_100m=_opt_int(o.get("hts_avls")),
        )

    @staticmethod
    def _chart_bar(r: dict[str, Any]) -> DailyBar:
        sign = str(r.get("prdy_vrss_sign", "3"))
        return DailyBar(
            day=_day(r["stck_bsop_date"]),
            open=_int(r.get("stck_oprc", 0)),
            high=_int(r.get("stck_hgpr", 0)),
            low=_int(r.get("stck_lwpr", 0)),
            close=_int(r.get("stck_clpr", 0)),
            volume=_int(r.get("acml_vol", 0)),
            traded_value=_opt_int(r.get("acml_tr_pbmn")),
            change=_signed(_int(r.get("prdy_vrss", 0)), sign),
            change_sign=sign,
        )

    # -- rankings ------------------------------------------------------------------------------

    def fluctuation_rank(self, market: str = "0000", falling: bool = False) -> list[RankEntry]:
        """Top movers by change % (FHPST01700000); ``market`` 0000 all, 0001 KOSPI, 1001 KOSDAQ."""
        body, _ = self.get(
            endpoints.FLUCTUATION_RANK,
            {
                "fid_cond_mrkt_div_code": "J",
                "fid_cond_scr_div_code": "20170",
                "fid_input_iscd": market,
                "fid_rank_sort_cls_code": "1" if falling else "0",
                "fid_input_cnt_1": "0",
                "fid_prc_cls_code": "0",
                "fid_input_price_1": "",
                "fid_input_price_2": "",
                "fid_vol_cnt": "",
                "fid_trgt_cls_code": "0",
                "fid_trgt_exls_cls_code": "0",
                "fid_div_cls_code": "0",
                "fid_rsfl_rate1": "",
                "fid_rsfl_rate2": "",
            },
        )
        return [
            self._rank(
                r, i, code_field="stck_shrn_iscd", high=_opt_int(r.get("stck_hgpr")), low=_opt_int(r.get("stck_lwpr"))
            )
            for i, r in enumerate(_rows(body), 1)
        ]

    def volume_rank(self, market: str = "0000", sort: str = "0") -> list[RankEntry]:
        """Top by volume (FHPST01710000); ``sort`` 0 volume, 1 volume growth, 2 turnover, 3 value."""
        body, _ = self.get(
            endpoints.VOLUME_RANK,
            {
                "FID_COND_MRKT_DIV_CODE": "J",
                "FID_COND_SCR_DIV_CODE": "20171",
                "FID_INPUT_ISCD": market,
                "FID_DIV_CLS_CODE": "0",
                "FID_BLNG_CLS_CODE": sort,
                "FID_TRGT_CLS_CODE": "111111111",
                "FID_TRGT_EXLS_CLS_CODE": "0000000000",
                "FID_INPUT_PRICE_1": "",
                "FID_INPUT_PRICE_2": "",
                "FID_VOL_CNT": "",
                "FID_INPUT_DATE_1": "",
            },
        )
        return [
            self._rank(
                r,
                i,
                code_field="mksc_shrn_iscd",
                traded_value=_opt_int(r.get("acml_tr_pbmn")),
                prev_volume=_opt_int(r.get("prdy_vol")),
            )
            for i, r in enumerate(_rows(body), 1)
        ]

    def market_cap_rank(self, market: str = "0000") -> list[RankEntry]:
        """Top by market capitalisation (FHPST01740000)."""
        body, _ = self.get(
            endpoints.MARKET_CAP_RANK,
            {
                "fid_cond_mrkt_div_code": "J",
                "fid_cond_scr_div_code": "20174",
                "fid_div_cls_code": "0",
                "fid_input_iscd": market,
                "fid_trgt_cls_code": "0",
                "fid_trgt_exls_cls_code": "0",
                "fid_input_price_1": "",
                "fid_input_price_2": "",
                "fid_vol_cnt": "",
            },
        )
        return [
            self._rank(
                r,
                i,
                code_field="mksc_shrn_iscd",
                market_cap_100m=_opt_int(r.get("stck_avls")),
                market_share_percent=_opt_dec(r.get("mrkt_whol_avls_rlim")),
            )
            for i, r in enumerate(_rows(body), 1)
        ]

    @staticmethod
    def _rank(r: dict[str, Any], position: int, *, code_field: str, **extra: Any) -> RankEntry:
        sign = str(r.get("prdy_vrss_sign", "3"))
        code = str(r.get(code_field) or r.get("stck_shrn_iscd") or r.get("mksc_shrn_iscd") or "").strip()
        if not code:
            raise KisProtocolError("ranking row without a code")
        return RankEntry(
            rank=_opt_int(r.get("data_rank")) or position,
            symbol=code,
            name=str(r.get("hts_kor_isnm", "")).strip(),
            price=_int(r.get("stck_prpr", 0)),
            change=_signed(_int(r.get("prdy_vrss", 0)), sign),
            change_sign=sign,
            change_percent=_signed(_dec(r.get("prdy_ctrt", 0)), sign),
            volume=_int(r.get("acml_vol", 0)),
            **extra,
        )

    # -- indices -------------------------------------------------------------------------------

    def index_price(self, code: str) -> IndexQuote:
        """Current value of an index (FHPUP02100000): 0001 KOSPI, 1001 KOSDAQ, 2001 KOSPI200."""
        body, _ = self.get(endpoints.INDEX_PRICE, {"FID_COND_MRKT_DIV_CODE": "U", "FID_INPUT_ISCD": code})
        o = _obj(body)
        if _dec(o.get("bstp_nmix_prpr", 0)) <= 0:
            raise KisNotFound(f"no value for index {code}")
        sign = str(o.get("prdy_vrss_sign", "3"))
        return IndexQuote(
            code=code,
            value=_dec(o["bstp_nmix_prpr"]),
            change=_signed(_dec(o.get("bstp_nmix_prdy_vrss", 0)), sign),
            change_sign=sign,
            change_percent=_signed(_dec(o.get("bstp_nmix_prdy_ctrt", 0)), sign),
            open=_dec(o.get("bstp_nmix_oprc", 0)),
            high=_dec(o.get("bstp_nmix_hgpr", 0)),
            low=_dec(o.get("bstp_nmix_lwpr", 0)),
            volume=_int(o.get("acml_vol", 0)),
            traded_value=_int(o.get("acml_tr_pbmn", 0)),
            advancing=_int(o.get("ascn_issu_cnt", 0)),
            upper_limit=_int(o.get("uplm_issu_cnt", 0)),
            unchanged=_int(o.get("stnr_issu_cnt", 0)),
            declining=_int(o.get("down_issu_cnt", 0)),
            lower_limit=_int(o.get("lslm_issu_cnt", 0)),
        )

    def index_daily_prices(self, code: str, end: date | None = None, period: str = "D") -> list[IndexBar]:
        """Recent daily bars of an index up to ``end`` (FHPUP02120000), oldest first."""
        body, _ = self.get(
            endpoints.INDEX_DAILY_PRICE,
            {
                "FID_COND_MRKT_DIV_CODE": "U",
                "FID_INPUT_ISCD": code,
                "FID_PERIOD_DIV_CODE": period,
                "FID_INPUT_DATE_1": (end or date.today()).strftime("%Y%m%d"),
            },
        )
        bars = [self._index_bar(r) for r in _dated_rows(body)]
        return sorted(bars, key=lambda b: b.day)

    def index_chart(self, code: str, start: date, end: date, period: str = "D", max_pages: int = 100) -> list[IndexBar]:
        """Index bars of ``[start, end]`` (FHKUP03500100), paging over 100-row date windows, oldest first."""
        by_day: dict[date, IndexBar] = {}
        params = {"FID_COND_MRKT_DIV_CODE": "U", "FID_INPUT_ISCD": code, "FID_PERIOD_DIV_CODE": period}
        for body in self._chart_pages(endpoints.INDEX_CHART, params, start, end, max_pages):
            for bar in map(self._index_bar, _dated_rows(body)):
                if start <= bar.day <= end:
                    by_day[bar.day] = bar
        return [by_day[d] for d in sorted(by_day)]

    @staticmethod
    def _index_bar(r: dict[str, Any]) -> IndexBar:
        return IndexBar(
            day=_day(r["stck_bsop_date"]),
            open=_dec(r.get("bstp_nmix_oprc", 0)),
            high=_dec(r.get("bstp_nmix_hgpr", 0)),
            low=_dec(r.get("bstp_nmix_lwpr", 0)),
            close=_dec(r.get("bstp_nmix_prpr", 0)),
            volume=_int(r.get("acml_vol", 0)),
            traded_value=_opt_int(r.get("acml_tr_pbmn")),
        )

    # -- ELW -----------------------------------------------------------------------------------

    def elw_price(self, code: str) -> ElwQuote:
        """Current price of an ELW (FHKEW15010000)."""
        body, _ = self.get(endpoints.ELW_PRICE, {"FID_COND_MRKT_DIV_CODE": "W", "FID_INPUT_ISCD": code})
        o = _obj(body)
        if _int(o.get("elw_prpr", 0)) <= 0:
            raise KisNotFound(f"no price for ELW {code}")
        sign = str(o.get("prdy_vrss_sign", "3"))
        return ElwQuote(
            symbol=str(o.get("elw_shrn_iscd") or code),
            name=str(o.get("hts_kor_isnm", "")).strip(),
            price=_int(o["elw_prpr"]),
            change=_signed(_int(o.get("prdy_vrss", 0)), sign),
            change_sign=sign,
            change_percent=_signed(_dec(o.get("prdy_ctrt", 0)), sign),
            volume=_int(o.get("acml_vol", 0)),
            open=_int(o.get("elw_oprc", 0)),
            high=_int(o.get("elw_hgpr", 0)),
            low=_int(o.get("elw_lwpr", 0)),
            prev_close=_int(o.get("stck_prdy_clpr", 0)),
            underlying_symbol=str(o.get("unas_shrn_iscd", "")).strip(),
            underlying_name=str(o.get("unas_isnm", "")).strip(),
            underlying_price=_int(o.get("unas_prpr", 0)),
            strike=_opt_dec(o.get("acpr")),
            theoretical_price=_opt_dec(o.get("hts_thpr")),
            implied_volatility=_opt_dec(o.get("hts_ints_vltl")),
        )


_shared: KisRestClient | None = None
_shared_lock = threading.Lock()


def shared_client() -> KisRestClient:
    """The process's client (a Lambda container's, across invocations): one token cache, one rate bucket.
    Rebuilt if the configured KIS server or app key changed (tests switch simulators)."""
    global _shared
    settings = get_settings()
    with _shared_lock:
        if (
            _shared is None
            or _shared.base_url != endpoints.rest_base_url(settings)
            or _shared.credentials != KisCredentials.from_settings(settings)
        ):
            if _shared is not None:
                _shared.close()
            _shared = KisRestClient.from_settings(settings)
        return _shared
