-- Bars loaded from KIS daily history have no trade count (the chart does not give it) and may
-- lack traded value: unknown is NULL, never a made-up zero.
ALTER TABLE ohlcv_1d ALTER COLUMN trade_count DROP NOT NULL;
ALTER TABLE ohlcv_1d ALTER COLUMN amount DROP NOT NULL;
