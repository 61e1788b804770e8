-- The LLM call log and the daily call budget (kstock.llm, issue 13).
--
-- One row per call a feature made, whatever its outcome, so "tokens per feature" and "why did
-- the AI outlook fall back to rules" are both one query. Token counts come from Gemini's
-- usageMetadata and are NULL when the provider never answered (timeout, 5xx, refused by budget).
CREATE TABLE llm_calls (
    id              bigserial PRIMARY KEY,
    called_at       timestamptz NOT NULL,
    kst_day         date NOT NULL,          -- the budget day the call counted against (KST)
    feature         text NOT NULL,          -- who asked: theme_classify, outlook, ...
    model           text NOT NULL,          -- the model asked (settings.gemini_model)
    model_version   text,                   -- the modelVersion that answered
    prompt_tokens   integer,
    answer_tokens   integer,                -- candidatesTokenCount
    thinking_tokens integer,                -- thoughtsTokenCount (billed as output)
    total_tokens    integer,
    latency_ms      integer NOT NULL,       -- the whole call, retries and back-off included
    attempts        smallint NOT NULL,      -- HTTP requests sent (0 when refused before any I/O)
    outcome         text NOT NULL,          -- ok, or the LlmError subclass's outcome
    error           text                    -- short, secret-free message when outcome <> 'ok'
);

CREATE INDEX llm_calls_day_feature_idx ON llm_calls (kst_day, feature);

-- Calls reserved per KST day. The reservation is one INSERT ... ON CONFLICT DO UPDATE with the
-- budget in its WHERE clause: the row lock serialises concurrent Lambdas, so the count can never
-- pass the budget however many ask at once.
CREATE TABLE llm_call_budget (
    kst_day date PRIMARY KEY,
    calls   integer NOT NULL CHECK (calls >= 0)
);
