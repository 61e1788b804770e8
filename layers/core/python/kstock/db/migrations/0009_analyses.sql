-- AI outlook per company and industry (issue 16): one row per owner per KST day.
--
-- The row is also the claim that dedupes LLM work: the first request of the day INSERTs it
-- (ON CONFLICT DO NOTHING) holding the rules result with status 'pending'; only the inserter queues
-- the LLM computation, and the worker takes the row (claimed_at) before calling Gemini, so 50
-- concurrent first requests and a redelivered message still cost one call. Postgres rather than
-- Powertools idempotency: the row is the cache and the answer as well, in the store every reader has,
-- and the unique index makes the claim atomic across Lambdas with no DynamoDB table to add.
ALTER TABLE ai_analyses
    ADD COLUMN kst_day         date NOT NULL DEFAULT (now() AT TIME ZONE 'Asia/Seoul')::date,
    ADD COLUMN status          text NOT NULL DEFAULT 'done' CHECK (status IN ('pending', 'done')),
    ADD COLUMN outlook         text CHECK (outlook IN ('positive', 'neutral', 'negative')),
    ADD COLUMN answer          jsonb NOT NULL DEFAULT '{}',  -- the analysis as served (camelCase)
    ADD COLUMN input_as_of     timestamptz,                  -- the newest stored datum the input used
    ADD COLUMN fallback_reason text,                         -- why rules answered (no key, timeout ...)
    ADD COLUMN total_tokens    integer,                      -- the LLM calls' tokens for this analysis
    ADD COLUMN claimed_at      timestamptz;                  -- a worker computing the LLM answer
CREATE UNIQUE INDEX ai_analyses_company_day_key ON ai_analyses (company_id, kst_day) WHERE company_id IS NOT NULL;
CREATE UNIQUE INDEX ai_analyses_industry_day_key ON ai_analyses (industry_id, kst_day) WHERE industry_id IS NOT NULL;
