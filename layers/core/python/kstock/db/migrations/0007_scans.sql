-- Scans (issue 15): a run is split into chunks of symbols that queue workers analyse; the last chunk
-- to finish (counted under the run's row lock) completes the run. Every analysed symbol is stored
-- with its grade, so a run's answer is a sorted, limited read of its signals.

ALTER TABLE scan_runs DROP CONSTRAINT IF EXISTS scan_runs_status_check;
ALTER TABLE scan_runs ADD CONSTRAINT scan_runs_status_check CHECK (status IN ('running', 'done', 'failed'));
ALTER TABLE scan_runs
    ADD COLUMN trigger      text NOT NULL DEFAULT 'api' CHECK (trigger IN ('api', 'schedule')),
    ADD COLUMN as_of        date NOT NULL DEFAULT (now() AT TIME ZONE 'Asia/Seoul')::date,  -- the KST trading day
    ADD COLUMN chunks_total integer NOT NULL DEFAULT 0 CHECK (chunks_total >= 0),
    ADD COLUMN chunks_done  integer NOT NULL DEFAULT 0 CHECK (chunks_done >= 0),
    ADD COLUMN symbols      integer NOT NULL DEFAULT 0 CHECK (symbols >= 0),  -- the universe's size
    -- the whole universe's weighted 12-month returns {symbol: return or null}, computed once when the
    -- run is created, so every chunk ranks RS against the same universe
    ADD COLUMN universe     jsonb NOT NULL DEFAULT '{}';
-- One scheduled run per trading day: the schedule firing twice does not scan twice.
CREATE UNIQUE INDEX scan_runs_daily_idx ON scan_runs (as_of) WHERE trigger = 'schedule';
CREATE INDEX scan_runs_done_idx ON scan_runs (finished_at DESC) WHERE status = 'done';

-- A chunk counts once: a redelivered message finds its row and changes nothing.
CREATE TABLE scan_chunks (
    run_id   bigint NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    chunk    integer NOT NULL,
    symbols  integer NOT NULL,
    done_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, chunk)
);

ALTER TABLE scan_signals
    ADD COLUMN rs_rank            numeric(5, 2),
    ADD COLUMN smart_money_score  numeric(6, 2),
    ADD COLUMN stop_price         numeric(14, 2),
    ADD COLUMN close_price        numeric(14, 2),
    ADD COLUMN volume             bigint,           -- the last day's volume (sortBy volume)
    ADD COLUMN market_cap         bigint,           -- at scan time (sortBy market_cap)
    ADD COLUMN valid              boolean NOT NULL DEFAULT false;  -- graded A, B or C: a signal
CREATE INDEX scan_signals_valid_idx ON scan_signals (run_id) WHERE valid;
