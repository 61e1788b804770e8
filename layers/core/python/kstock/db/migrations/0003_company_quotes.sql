-- The last KIS quote of each company, written by the market-data refresh (MarketDataFunction):
-- the price, change and valuation ratios at that moment. Rankings, comparisons and the price
-- fallback of company detail read it; live prices come from Redis (price:{symbol}).
CREATE TABLE company_quotes (
    company_id     integer PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    price          numeric(14, 2) NOT NULL,
    change         numeric(14, 2),
    change_percent numeric(8, 2),
    volume         bigint,
    per            numeric(12, 2),
    pbr            numeric(12, 2),
    quoted_at      timestamptz NOT NULL
);

-- Stalest-first refresh order.
CREATE INDEX companies_market_data_at_idx ON companies (market_data_at NULLS FIRST, id);
