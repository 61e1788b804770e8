-- kstock data model: users, reference data, content, market data, analytics.
-- Times are timestamptz (UTC on the wire); money in KRW as numeric/bigint.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL,
    username      text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE industries (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text
);

CREATE TABLE companies (
    id                 serial PRIMARY KEY,
    symbol             varchar(9) NOT NULL UNIQUE,
    name               text NOT NULL,
    market             text NOT NULL CHECK (market IN ('KOSPI', 'KOSDAQ', 'KONEX')),
    kind               text NOT NULL DEFAULT 'STOCK' CHECK (kind IN ('STOCK', 'ETF', 'ETN', 'ELW')),
    industry_id        integer REFERENCES industries (id),
    description        text,
    logo               text,
    homepage           text,
    listed_on          date,
    listed_shares      bigint CHECK (listed_shares >= 0),
    market_cap         bigint CHECK (market_cap >= 0),          -- KRW
    market_data_at     timestamptz,                             -- when listed_shares/market_cap were refreshed
    is_warning         boolean NOT NULL DEFAULT false,          -- 투자경고/위험 등
    is_halted          boolean NOT NULL DEFAULT false,          -- 거래정지
    realtime_supported boolean NOT NULL DEFAULT true,           -- KIS can stream it over WebSocket
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- name prefix search (lower(name) LIKE 'kw%'), market-cap ranking, industry listing
CREATE INDEX companies_name_prefix_idx ON companies (lower(name) text_pattern_ops);
CREATE INDEX companies_market_cap_idx ON companies (market_cap DESC NULLS LAST, id);
CREATE INDEX companies_industry_idx ON companies (industry_id, market_cap DESC NULLS LAST);

CREATE TABLE market_indices (
    code     text PRIMARY KEY,               -- KOSPI, KOSDAQ, KOSPI200
    name     text NOT NULL,
    kis_code varchar(4) NOT NULL UNIQUE      -- 0001, 1001, 2001
);

CREATE TABLE favorites (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, company_id)
);

CREATE TABLE comparisons (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comparisons_user_idx ON comparisons (user_id, created_at DESC);

CREATE TABLE comparison_members (
    comparison_id bigint NOT NULL REFERENCES comparisons (id) ON DELETE CASCADE,
    company_id    integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    position      smallint NOT NULL,
    PRIMARY KEY (comparison_id, company_id)
);

CREATE TABLE portfolio_holdings (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id    integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    quantity      bigint NOT NULL CHECK (quantity > 0),
    average_price numeric(14, 2) NOT NULL CHECK (average_price >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, company_id)
);

-- Yearly figures (DART). Amounts in KRW.
CREATE TABLE financials (
    id                bigserial PRIMARY KEY,
    company_id        integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    fiscal_year       smallint NOT NULL,
    revenue           bigint,
    operating_profit  bigint,
    net_income        bigint,
    per               numeric(10, 2),
    pbr               numeric(10, 2),
    sales_composition jsonb,
    source            text NOT NULL,
    fetched_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (company_id, fiscal_year)
);

-- Periodic filings (DART).
CREATE TABLE reports (
    id          bigserial PRIMARY KEY,
    company_id  integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    receipt_no  text NOT NULL UNIQUE,        -- DART rcept_no
    title       text NOT NULL,
    report_type text,
    filed_on    date NOT NULL,
    url         text NOT NULL
);
CREATE INDEX reports_company_idx ON reports (company_id, filed_on DESC);

CREATE TABLE news (
    id           bigserial PRIMARY KEY,
    url          text NOT NULL UNIQUE,
    title        text NOT NULL,
    summary      text,
    source       text NOT NULL,               -- provider, e.g. naver / offline
    published_at timestamptz NOT NULL,
    keywords     text[] NOT NULL DEFAULT '{}',
    fetched_at   timestamptz NOT NULL DEFAULT now(),
    search       tsvector GENERATED ALWAYS AS (
                     to_tsvector('simple', title || ' ' || coalesce(summary, ''))) STORED
);
CREATE INDEX news_search_idx ON news USING gin (search);
CREATE INDEX news_published_idx ON news (published_at DESC);

CREATE TABLE news_companies (
    news_id    bigint NOT NULL REFERENCES news (id) ON DELETE CASCADE,
    company_id integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    PRIMARY KEY (company_id, news_id)
);

CREATE TABLE news_industries (
    news_id     bigint NOT NULL REFERENCES news (id) ON DELETE CASCADE,
    industry_id integer NOT NULL REFERENCES industries (id) ON DELETE CASCADE,
    PRIMARY KEY (industry_id, news_id)
);

-- Raw trades, one partition per UTC day (a KRX session, 00:00-06:30 UTC, never straddles two).
-- stream_id is the row's identity (the Redis stream entry it came from): KIS trades carry no
-- id and identical trades happen, so rows are never deduplicated on their values.
CREATE TABLE stock_ticks (
    time           timestamptz NOT NULL,
    symbol         varchar(9) NOT NULL,
    price          numeric(14, 2) NOT NULL,
    volume         bigint NOT NULL,
    acc_volume     bigint,
    change         numeric(14, 2),
    change_percent numeric(8, 2),
    side           char(1),                  -- B buyer-initiated, S seller-initiated
    source         text NOT NULL DEFAULT 'ws',
    stream_id      text NOT NULL,
    PRIMARY KEY (time, stream_id)
) PARTITION BY RANGE (time);
CREATE INDEX stock_ticks_symbol_time_idx ON stock_ticks (symbol, time DESC);

-- Create the day partitions of stock_ticks covering [first_day, first_day + days).
CREATE FUNCTION ensure_tick_partitions(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    created integer := 0;
    part text;
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        d := first_day + i;
        part := 'stock_ticks_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF stock_ticks FOR VALUES FROM (%L) TO (%L)',
                part, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;

-- Drop whole day partitions of stock_ticks older than cutoff_day; returns how many.
CREATE FUNCTION drop_tick_partitions_before(cutoff_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'stock_ticks' AND c.relname ~ '^stock_ticks_[0-9]{8}$'
          AND to_date(substr(c.relname, 13), 'YYYYMMDD') < cutoff_day
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- OHLCV roll-ups. bucket = start of the bucket (1d: 00:00 KST of the trading day).
CREATE TABLE ohlcv_1m (
    symbol      varchar(9) NOT NULL,
    bucket      timestamptz NOT NULL,
    open        numeric(14, 2) NOT NULL,
    high        numeric(14, 2) NOT NULL,
    low         numeric(14, 2) NOT NULL,
    close       numeric(14, 2) NOT NULL,
    volume      bigint NOT NULL,
    amount      numeric(22, 2) NOT NULL,
    trade_count integer NOT NULL,
    PRIMARY KEY (symbol, bucket)
);
CREATE TABLE ohlcv_15m (LIKE ohlcv_1m INCLUDING ALL);
CREATE TABLE ohlcv_1h (LIKE ohlcv_1m INCLUDING ALL);
CREATE TABLE ohlcv_1d (LIKE ohlcv_1m INCLUDING ALL);
CREATE INDEX ohlcv_1m_bucket_idx ON ohlcv_1m (bucket);
CREATE INDEX ohlcv_15m_bucket_idx ON ohlcv_15m (bucket);
CREATE INDEX ohlcv_1h_bucket_idx ON ohlcv_1h (bucket);

CREATE TABLE index_data (
    index_code text NOT NULL REFERENCES market_indices (code),
    interval   text NOT NULL CHECK (interval IN ('1m', '1d')),
    time       timestamptz NOT NULL,
    open       numeric(12, 2),
    high       numeric(12, 2),
    low        numeric(12, 2),
    close      numeric(12, 2) NOT NULL,
    volume     bigint,
    amount     bigint,
    PRIMARY KEY (index_code, interval, time)
);

CREATE TABLE themes (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE theme_members (
    theme_id   integer NOT NULL REFERENCES themes (id) ON DELETE CASCADE,
    company_id integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    reason     text,
    headlines  text[] NOT NULL DEFAULT '{}',
    classifier text NOT NULL,                 -- model name, or 'rules' for the offline fallback
    joined_at  timestamptz NOT NULL DEFAULT now(),
    left_at    timestamptz,
    PRIMARY KEY (theme_id, company_id)
);
CREATE INDEX theme_members_company_idx ON theme_members (company_id);

CREATE TABLE scan_runs (
    id            bigserial PRIMARY KEY,
    request       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    total_scanned integer NOT NULL DEFAULT 0,
    valid_signals integer NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX scan_runs_started_idx ON scan_runs (started_at DESC);

CREATE TABLE scan_signals (
    id           bigserial PRIMARY KEY,
    run_id       bigint NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    company_id   integer NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    grade        text NOT NULL,
    score        numeric(6, 2) NOT NULL,
    vcp_score    numeric(6, 2),
    entry_price  numeric(14, 2),
    target_price numeric(14, 2),
    details      jsonb NOT NULL DEFAULT '{}',
    UNIQUE (run_id, company_id)
);
CREATE INDEX scan_signals_run_score_idx ON scan_signals (run_id, score DESC);

CREATE TABLE ai_analyses (
    id           bigserial PRIMARY KEY,
    company_id   integer REFERENCES companies (id) ON DELETE CASCADE,
    industry_id  integer REFERENCES industries (id) ON DELETE CASCADE,
    summary      text NOT NULL,
    growth_score smallint CHECK (growth_score BETWEEN 0 AND 100),
    model        text NOT NULL,              -- LLM model name, or 'rules' when no LLM answered
    generated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((company_id IS NULL) <> (industry_id IS NULL))
);
CREATE INDEX ai_analyses_company_idx ON ai_analyses (company_id, generated_at DESC);
CREATE INDEX ai_analyses_industry_idx ON ai_analyses (industry_id, generated_at DESC);
