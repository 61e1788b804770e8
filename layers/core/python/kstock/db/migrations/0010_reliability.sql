-- Reliability (issue 17): what must survive a Redis restart lives here.
--
-- Revoked access tokens: the durable record a logout writes before it tells the Redis cache.
-- A token is refused while its jti is listed; rows past expires_at no longer matter (the JWT's
-- own expiry refuses it) and are deleted opportunistically.
CREATE TABLE revoked_tokens (
    token_id   text PRIMARY KEY,
    user_id    bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
