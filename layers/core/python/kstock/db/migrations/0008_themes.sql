-- Live theme sync (issue 14): rank watch state, stored classifications, theme lifecycle, metrics.
--
-- Redis holds theme:current_top_30 as a cache; everything that decides whether a stock is
-- classified (first seen, debounce streak, analysed today) lives here, so a Redis restart never
-- re-classifies the whole ranking.

-- A theme is active while one of its members was in the top 30 during the last trading day.
ALTER TABLE themes ADD COLUMN last_in_top_at timestamptz;

-- Why a member joined: joined_at is "since", left_at marks a member that fell out of the ranking
-- (it stays visible for the KST day, marked). headline_ids point at news rows (links in the API);
-- headlines keeps their titles should retention delete the articles.
ALTER TABLE theme_members ADD COLUMN confidence real NOT NULL DEFAULT 0;
ALTER TABLE theme_members ADD COLUMN headline_ids bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE theme_members ADD COLUMN fallback text;          -- why rules decided instead of the LLM
ALTER TABLE theme_members ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- One row per symbol and KST day that reached the fluctuation top 30.
-- streak_since: start of the current uninterrupted stay in the top 30 (NULL while out): the
-- debounce waits on it. queued_at / analysed_at: the last classification asked for and done.
CREATE TABLE theme_sightings (
    day            date NOT NULL,
    symbol         varchar(9) NOT NULL,
    name           text NOT NULL DEFAULT '',
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    streak_since   timestamptz,
    price          numeric(14, 2),
    change_percent numeric(8, 2),
    volume         bigint,
    traded_value   bigint,
    queued_at      timestamptz,
    analysed_at    timestamptz,
    attempts       integer NOT NULL DEFAULT 0,
    retry_pending  boolean NOT NULL DEFAULT false,        -- the last answer was 미분류
    PRIMARY KEY (day, symbol)
);
CREATE INDEX theme_sightings_symbol_idx ON theme_sightings (symbol, day DESC);

-- The answer of one classification, by idempotency key (symbol, KST day, headline digest):
-- a redelivered message finds it here and never asks the LLM again.
CREATE TABLE theme_classifications (
    idempotency_key text PRIMARY KEY,
    symbol          varchar(9) NOT NULL,
    day             date NOT NULL,
    result          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX theme_classifications_day_idx ON theme_classifications (day);

-- Counters of the pipeline per KST day (ranking polls, entrants seen, debounced away, LLM calls,
-- rules fallbacks, unclassified, tokens): GET /themes/metrics and the cost target read them.
CREATE TABLE theme_metrics (
    day    date NOT NULL,
    metric text NOT NULL,
    value  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, metric)
);
